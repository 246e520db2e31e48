#!/usr/bin/env python3
"""Rebuild colour photographs from Prokudin-Gorskii glass-plate scans.

Sergei Prokudin-Gorskii (1863-1944) photographed the Russian Empire in
1905-1915 by exposing one glass plate three times, through blue, green and
red filters.  The Library of Congress (Prints & Photographs Division,
Prokudin-Gorskii Collection) holds the plates and publishes scans of them; the LoC states "no known
restrictions on publication" for the collection (public domain in the US).
The scans used here are the small LoC JPEGs of the plates (about 400 x 1024
px, the three exposures stacked top to bottom: blue, green, red), as copied
into public GitHub repositories of a computer-vision course assignment.

For every plate in the input folder this script:

1. splits the plate height into three equal parts: top = B, middle = G,
   bottom = R;
2. aligns G and R to B by integer translation: a coarse-to-fine search on an
   image pyramid that scores the normalized cross-correlation (NCC) of Sobel
   gradient magnitudes over the channel interior.  The coarsest level is
   searched exhaustively (cv2.matchTemplate) and its best few peaks are each
   refined level by level, so a repeating pattern cannot trap the search in a
   wrong coarse peak;
3. crops the three channels to their common area and then cuts a further
   border (default 9 % of each side) to remove plate edges and scratches;
4. applies gray-world white balance with the gains clipped to [0.8, 1.25];
5. stretches contrast between the 1st and 99th percentiles (one pair for all
   three channels, so hues are not changed);
6. writes an 8-bit RGB JPEG (quality 92), no larger than --max-side px.

Optionally (--exclude-dir) it skips plates whose result duplicates an image
in another folder: by LoC plate number in the file name (e.g. 00163v) or by
the correlation of 32x32 grayscale thumbnails.  It also skips duplicates
within the run, and plates whose final gradient NCC is below --min-score
(a sign of a failed alignment or a plate without three usable exposures).
A tab-separated log (align_log.tsv) with the shifts and scores is written to
the output folder.

Usage:
    python scripts/prokudin_gorskii.py data/extern/pg_plates data/extern/pg_color \
        --exclude-dir ../shared/data/historical_color
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}
LOC_NUMBER = re.compile(r"(\d{5})[a-z]?(?=\D|$)")


# --------------------------------------------------------------------------- io
def load_plate(path: Path) -> np.ndarray:
    """Read a plate scan as float32 grayscale in [0, 1] (8- or 16-bit)."""
    im = cv2.imread(str(path), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_GRAYSCALE)
    if im is None:
        raise ValueError(f"cannot read {path}")
    scale = 65535.0 if im.dtype == np.uint16 else 255.0
    return im.astype(np.float32) / scale


def split_plate(plate: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top, middle and bottom thirds: blue, green, red exposures."""
    h = plate.shape[0] // 3
    return plate[:h], plate[h : 2 * h], plate[2 * h : 3 * h]


# -------------------------------------------------------------------- alignment
def gradient(img: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of a lightly smoothed image."""
    img = cv2.GaussianBlur(img, (0, 0), 1.0)
    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.magnitude(gx, gy)


def ncc_map(ref: np.ndarray, mov: np.ndarray, cy: int, cx: int, r: int, margin: int) -> np.ndarray:
    """NCC of the interior of `mov` against `ref` for shifts (cy+-r, cx+-r).

    A shift (dy, dx) means mov[y, x] corresponds to ref[y + dy, x + dx].
    Returns a (2r+1, 2r+1) array; positions that leave `ref` score -1.
    """
    h, w = mov.shape
    tmpl = mov[margin : h - margin, margin : w - margin]
    th, tw = tmpl.shape
    # window of ref that holds every placement of the template
    y0, x0 = margin + cy - r, margin + cx - r
    y1, x1 = y0 + th + 2 * r, x0 + tw + 2 * r
    out = np.full((2 * r + 1, 2 * r + 1), -1.0, dtype=np.float32)
    cy0, cx0 = max(y0, 0), max(x0, 0)
    cy1, cx1 = min(y1, ref.shape[0]), min(x1, ref.shape[1])
    if cy1 - cy0 < th or cx1 - cx0 < tw:
        return out
    res = cv2.matchTemplate(ref[cy0:cy1, cx0:cx1], tmpl, cv2.TM_CCOEFF_NORMED)
    oy, ox = cy0 - y0, cx0 - x0
    out[oy : oy + res.shape[0], ox : ox + res.shape[1]] = res
    return out


def top_peaks(score: np.ndarray, k: int, min_dist: int) -> list[tuple[int, int]]:
    """Up to k local maxima of `score`, at least min_dist apart, best first."""
    s = score.copy()
    peaks = []
    for _ in range(k):
        iy, ix = np.unravel_index(int(np.argmax(s)), s.shape)
        if s[iy, ix] <= -1:
            break
        peaks.append((int(iy), int(ix)))
        s[max(iy - min_dist, 0) : iy + min_dist + 1, max(ix - min_dist, 0) : ix + min_dist + 1] = -1
    return peaks


def align(
    ref: np.ndarray,
    mov: np.ndarray,
    max_shift: float = 0.1,
    min_side: int = 80,
    margin_frac: float = 0.15,
    n_peaks: int = 3,
) -> tuple[int, int, float]:
    """Integer shift (dy, dx) that aligns `mov` to `ref`, and its NCC score.

    Coarse-to-fine: a Gaussian pyramid of both gradient images; exhaustive
    search at the coarsest level (+- max_shift of the larger side), then each
    of the n_peaks best coarse shifts is refined by +-2 px per finer level.
    """
    g_ref, g_mov = gradient(ref), gradient(mov)
    pyr_ref, pyr_mov = [g_ref], [g_mov]
    while min(pyr_ref[-1].shape) // 2 >= min_side:
        pyr_ref.append(cv2.pyrDown(pyr_ref[-1]))
        pyr_mov.append(cv2.pyrDown(pyr_mov[-1]))

    top_r, top_m = pyr_ref[-1], pyr_mov[-1]
    r = max(2, int(round(max_shift * max(top_m.shape))))
    margin = max(r, int(round(margin_frac * min(top_m.shape))))
    coarse = ncc_map(top_r, top_m, 0, 0, r, margin)
    candidates = [(iy - r, ix - r) for iy, ix in top_peaks(coarse, n_peaks, 2)]

    best = (0, 0, -1.0)
    for dy, dx in candidates:
        score = float(coarse[dy + r, dx + r])
        for level in range(len(pyr_ref) - 2, -1, -1):
            lr, lm = pyr_ref[level], pyr_mov[level]
            dy, dx = 2 * dy, 2 * dx
            margin = max(abs(dy) + 2, abs(dx) + 2, int(round(margin_frac * min(lm.shape))))
            m = ncc_map(lr, lm, dy, dx, 2, margin)
            iy, ix = np.unravel_index(int(np.argmax(m)), m.shape)
            dy, dx, score = dy + int(iy) - 2, dx + int(ix) - 2, float(m[iy, ix])
        if score > best[2]:
            best = (dy, dx, score)
    return best


def combine(
    b: np.ndarray, g: np.ndarray, r: np.ndarray, sg: tuple[int, int], sr: tuple[int, int]
) -> np.ndarray:
    """Stack R, G, B (shifted by sg, sr relative to B) over their common area."""
    h, w = b.shape
    shifts = [(0, 0), sg, sr]
    # channel c pixel (y, x) lies at B coordinates (y + dy, x + dx)
    y0 = max(dy for dy, _ in shifts)
    x0 = max(dx for _, dx in shifts)
    y1 = min(h + dy for dy, _ in shifts)
    x1 = min(w + dx for _, dx in shifts)
    chans = [c[y0 - dy : y1 - dy, x0 - dx : x1 - dx] for c, (dy, dx) in zip((b, g, r), shifts, strict=True)]
    return np.dstack([chans[2], chans[1], chans[0]])  # RGB


# ---------------------------------------------------------------------- colour
def gray_world(rgb: np.ndarray, clip: tuple[float, float] = (0.8, 1.25)) -> np.ndarray:
    """Gray-world white balance: scale channel means to their common mean.

    Means ignore the darkest and brightest 2 % of pixels; gains are clipped.
    """
    lum = rgb.mean(axis=2)
    lo, hi = np.percentile(lum, [2, 98])
    mask = (lum > lo) & (lum < hi)
    means = rgb[mask].mean(axis=0)
    gains = np.clip(means.mean() / np.maximum(means, 1e-6), *clip)
    return np.clip(rgb * gains, 0.0, 1.0)


def stretch(rgb: np.ndarray, lo_pct: float = 1.0, hi_pct: float = 99.0) -> np.ndarray:
    """Linear contrast stretch of all channels together, percentiles to [0, 1]."""
    lo, hi = np.percentile(rgb, [lo_pct, hi_pct])
    if hi - lo < 1e-3:
        return rgb
    return np.clip((rgb - lo) / (hi - lo), 0.0, 1.0)


def resize_max(rgb: np.ndarray, max_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = max_side / max(h, w)
    if s >= 1:
        return rgb
    return cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)


# --------------------------------------------------------------------- dedupe
def thumb(img: np.ndarray) -> np.ndarray:
    """Zero-mean unit-norm 32x32 grayscale thumbnail (float RGB or gray in)."""
    g = img.mean(axis=2) if img.ndim == 3 else img
    t = cv2.resize(g.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA).ravel()
    t -= t.mean()
    return t / (np.linalg.norm(t) + 1e-8)


def loc_numbers(name: str) -> set[str]:
    return set(LOC_NUMBER.findall(name))


def load_references(folder: Path) -> tuple[set[str], list[tuple[str, np.ndarray]]]:
    numbers, thumbs = set(), []
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() not in IMAGE_EXTS:
            continue
        numbers |= loc_numbers(p.stem)
        with Image.open(p) as im:
            arr = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
        thumbs.append((p.name, thumb(arr)))
    return numbers, thumbs


def best_match(t: np.ndarray, refs: list[tuple[str, np.ndarray]]) -> tuple[str, float]:
    best = ("", -1.0)
    for name, rt in refs:
        c = float(t @ rt)
        if c > best[1]:
            best = (name, c)
    return best


# ----------------------------------------------------------------------- main
def process(path: Path, args: argparse.Namespace) -> tuple[np.ndarray, dict]:
    plate = load_plate(path)
    if plate.shape[0] > args.work_height:  # large .tif scans: align at a working size
        s = args.work_height / plate.shape[0]
        plate = cv2.resize(plate, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    b, g, r = split_plate(plate)
    dyg, dxg, sg = align(b, g, max_shift=args.max_shift)
    dyr, dxr, sr = align(b, r, max_shift=args.max_shift)
    rgb = combine(b, g, r, (dyg, dxg), (dyr, dxr))
    h, w = rgb.shape[:2]
    cy, cx = int(round(args.border * h)), int(round(args.border * w))
    rgb = rgb[cy : h - cy, cx : w - cx]
    rgb = stretch(gray_world(rgb))
    rgb = resize_max(rgb, args.max_side)
    info = {"g_shift": (dyg, dxg), "g_ncc": sg, "r_shift": (dyr, dxr), "r_ncc": sr}
    return rgb, info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", type=Path, help="folder of stacked B/G/R plate scans")
    ap.add_argument("output", type=Path, help="folder for the colour JPEGs")
    ap.add_argument(
        "--exclude-dir",
        type=Path,
        action="append",
        default=[],
        help="skip plates duplicating an image here (repeatable)",
    )
    ap.add_argument(
        "--dup-threshold",
        type=float,
        default=0.85,
        help="thumbnail correlation above which two images are duplicates",
    )
    ap.add_argument(
        "--min-score", type=float, default=0.25, help="skip plates whose G or R gradient NCC is below this"
    )
    ap.add_argument(
        "--max-shift", type=float, default=0.1, help="search range as a fraction of the channel's larger side"
    )
    ap.add_argument("--border", type=float, default=0.09, help="fraction cut from each side after alignment")
    ap.add_argument("--max-side", type=int, default=1024)
    ap.add_argument(
        "--work-height",
        type=int,
        default=3072,
        help="plates taller than this are downscaled before alignment",
    )
    ap.add_argument("--prefix", default="pg_", help="prefix for output names")
    args = ap.parse_args(argv)

    args.output.mkdir(parents=True, exist_ok=True)
    ref_numbers, ref_thumbs = set(), []
    for d in args.exclude_dir:
        n, t = load_references(d)
        ref_numbers |= n
        ref_thumbs += t

    plates = sorted(p for p in args.input.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    done: list[tuple[str, np.ndarray]] = []
    log = ["file\tstatus\tg_dy\tg_dx\tg_ncc\tr_dy\tr_dx\tr_ncc\tnote"]
    written = 0
    for p in plates:
        nums = loc_numbers(p.stem) & ref_numbers
        if nums:
            log.append(f"{p.name}\tskip_dup_name\t\t\t\t\t\t\tLoC number {','.join(sorted(nums))}")
            print(f"{p.name}: skipped, LoC number in --exclude-dir", file=sys.stderr)
            continue
        try:
            rgb, info = process(p, args)
        except Exception as e:  # unreadable or degenerate plate
            log.append(f"{p.name}\terror\t\t\t\t\t\t\t{e}")
            print(f"{p.name}: error {e}", file=sys.stderr)
            continue
        (gy, gx), (ry, rx) = info["g_shift"], info["r_shift"]
        row = f"{gy}\t{gx}\t{info['g_ncc']:.3f}\t{ry}\t{rx}\t{info['r_ncc']:.3f}"
        t = thumb(rgb)
        status, note = "ok", ""
        if min(info["g_ncc"], info["r_ncc"]) < args.min_score:
            status = "skip_low_score"
        else:
            name, c = best_match(t, ref_thumbs)
            if c > args.dup_threshold:
                status, note = "skip_dup_exclude", f"{name} r={c:.3f}"
            else:
                name, c = best_match(t, done)
                if c > args.dup_threshold:
                    status, note = "skip_dup_run", f"{name} r={c:.3f}"
        if status == "ok":
            out = args.output / f"{args.prefix}{p.stem}.jpg"
            img8 = (rgb * 255.0 + 0.5).astype(np.uint8)
            Image.fromarray(img8, "RGB").save(out, quality=92)
            done.append((out.name, t))
            written += 1
        log.append(f"{p.name}\t{status}\t{row}\t{note}")
        print(
            f"{p.name}: {status} G{info['g_shift']} {info['g_ncc']:.3f} "
            f"R{info['r_shift']} {info['r_ncc']:.3f} {note}",
            file=sys.stderr,
        )

    (args.output / "align_log.tsv").write_text("\n".join(log) + "\n")
    print(f"{written} of {len(plates)} plates written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
