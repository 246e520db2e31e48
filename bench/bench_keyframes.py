"""Temporal consistency through the product's path: `colorize video` on real sequences, lossless output, measured.

    OMP_NUM_THREADS=1 nice -n 19 python bench/bench_keyframes.py [--frames 32] [--height 240]
        [--sequences davis_dog davis_car-roundabout davis_parkour] [--methods none flow keyframes] [--no-write]

Each DAVIS sequence (../shared/data/video_frames/) is made grayscale (the true colours' CIE L, so the output's
lightness is the truth's and only the colour differs) at `--height` and written as numbered PNG frames; then
`colorize video FRAMES -o out.mkv --smoothing METHOD` runs (the command line itself, in this process; FFV1 is
lossless) and the decoded output file is measured against the true colours:

- warp error (Lai et al. 2018): mean ab change between an output frame and its predecessor warped onto it by
  optical flow of the input, over forward-backward consistent pixels (colorization.temporal_metrics);
- CDC (colour distribution consistency): JS divergence of the RGB histograms of frames 1, 2 and 4 apart;
- PSNR against the true colour, and Hasler-Suesstrunk colourfulness (the true colours' is given for scale).

Writes the section "## Keyframe propagation (bench/bench_keyframes.py)" of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchlib import load_average, machine, publish  # noqa: E402

from colorization import zoo  # noqa: E402

SECTION = "## Keyframe propagation (bench/bench_keyframes.py)"
DATA = REPO / ".." / "shared" / "data" / "video_frames"
SEQUENCES = ["davis_dog", "davis_car-roundabout", "davis_parkour"]
METHODS = ["none", "flow", "keyframes"]


def prepare(folder: Path, frames: int, height: int, dst: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(true colour frames, gray frames) at `height`; the gray ones written to `dst` as numbered PNGs."""
    import cv2

    from colorization.color import lab_to_rgb, rgb_to_lab
    from colorization.media import read_rgb8

    dst.mkdir(parents=True)
    truth, gray = [], []
    for i, path in enumerate(sorted(folder.glob("*.jpg"))[:frames]):
        rgb = read_rgb8(path)
        width = round(rgb.shape[1] * height / rgb.shape[0] / 2) * 2
        rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
        L = rgb_to_lab(rgb.astype(np.float32) / 255.0)[..., :1]
        g = lab_to_rgb(np.concatenate([L, np.zeros_like(L), np.zeros_like(L)], -1))[..., 0]
        g = np.clip(np.round(g * 255), 0, 255).astype(np.uint8)
        cv2.imwrite(str(dst / f"{i:05d}.png"), g)
        truth.append(rgb)
        gray.append(g)
    return truth, gray


def decode(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def measure(out: list[np.ndarray], truth: list[np.ndarray], gray: list[np.ndarray]) -> dict[str, float]:
    from colorization.color import rgb_to_lab
    from colorization.flow import Flow
    from colorization.metrics import colourfulness, psnr
    from colorization.temporal_metrics import cdc, warp_error

    if len(out) != len(truth):
        raise RuntimeError(f"the output has {len(out)} frames, the input {len(truth)}")
    ab = [rgb_to_lab(f.astype(np.float32) / 255.0)[..., 1:] for f in out]
    flow = Flow()
    warps = [warp_error(ab[t - 1], ab[t], gray[t - 1], gray[t], flow) for t in range(1, len(ab))]
    return {
        "warp_error": float(np.nanmean(warps)),
        "cdc": cdc(out),
        "psnr": float(np.mean([psnr(o, t) for o, t in zip(out, truth, strict=True)])),
        "colourfulness": float(np.mean([colourfulness(o) for o in out])),
    }


def run(sequences: list[str], methods: list[str], frames: int, height: int, model: str | None) -> list:
    from colorization import cli

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in sequences:
            folder = DATA / name
            if not folder.is_dir():
                print(f"skip {name}: {folder} is missing", flush=True)
                continue
            src = Path(tmp) / name
            truth, gray = prepare(folder, frames, height, src)
            result = {"truth": measure(truth, truth, gray)}
            for method in methods:
                out = Path(tmp) / f"{name}-{method}.mkv"
                argv = ["video", str(src), "-o", str(out), "--smoothing", method, "--fps", "24", "-q"]
                start = time.perf_counter()
                if cli.main(argv + (["--model", model] if model else [])) != 0:
                    raise RuntimeError(f"colorize {' '.join(argv)} failed")
                seconds = time.perf_counter() - start
                result[method] = {**measure(decode(out), truth, gray), "seconds": seconds}
                print(f"{name} {method}: {result[method]}", flush=True)
            rows.append((f"{name} ({len(truth)} frames, {truth[0].shape[1]}x{truth[0].shape[0]})", result))
    return rows


def table(rows: list, methods: list[str]) -> list[str]:
    lines = [
        "| sequence | method | warp error | CDC | PSNR dB | colourfulness | s/frame |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for label, result in rows:
        frames = int(label.split("(")[1].split()[0])
        for method in ["truth", *methods]:
            r = result[method]
            per_frame = f"{r['seconds'] / frames:.2f}" if "seconds" in r else ""
            psnr_text = "" if method == "truth" else f"{r['psnr']:.2f}"
            lines.append(
                f"| {label} | {method} | {r['warp_error']:.3f} | {r['cdc']:.4f} | {psnr_text} | "
                f"{r['colourfulness']:.1f} | {per_frame} |"
            )
    lines += [
        "",
        "| mean over sequences | warp error | warp error cut vs none | CDC | PSNR dB | colourfulness |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    mean = {
        m: {k: float(np.mean([r[m][k] for _, r in rows])) for k in rows[0][1][m]} for m in ["truth", *methods]
    }
    for method in ["truth", *methods]:
        r = mean[method]
        cut = (
            ""
            if method == "truth" or "none" not in mean
            else f"{1 - r['warp_error'] / mean['none']['warp_error']:.0%}"
        )
        psnr_text = "" if method == "truth" else f"{r['psnr']:.2f}"
        lines.append(
            f"| {method} | {r['warp_error']:.3f} | {cut} | {r['cdc']:.4f} | {psnr_text} | {r['colourfulness']:.1f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--sequences", nargs="+", default=SEQUENCES)
    parser.add_argument("--methods", nargs="+", default=METHODS)
    parser.add_argument("--model", default=None, help="model name or path (default: the default model)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    load = load_average()
    model = zoo.describe(zoo.resolve_model(args.model or "default"))
    rows = run(args.sequences, args.methods, args.frames, args.height, args.model)
    if not rows:
        sys.exit("no sequence found under " + str(DATA))
    command = (
        f"OMP_NUM_THREADS=1 nice -n 19 python bench/bench_keyframes.py --frames {args.frames} "
        f"--height {args.height} --sequences {' '.join(args.sequences)}"
    )
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}; load average {load} at the start "
        "(a shared machine: the seconds are not a speed figure). Command:",
        "",
        f"    {command}",
        "",
        "Each sequence made grayscale (the true colours' L), colorized by `colorize video FRAMES -o out.mkv "
        f"--smoothing METHOD` with `{model.name}` (version {model.version}; lossless FFV1), the output file decoded and "
        "measured: warp "
        "error (ab units, lower is steadier), CDC (JS divergence of RGB histograms at frame distances 1, 2, 4; "
        "lower is steadier), PSNR against the true colour, colourfulness (Hasler-Suesstrunk). `truth` is the true "
        "colour itself. `keyframes`: colour carried from keyframes (every 12 frames, shot starts and ends, large "
        "changes) by chained DIS flow, the network's colour where the chain fails.",
        "",
        *table(rows, args.methods),
    ]
    publish(SECTION, lines, write=not args.no_write)


if __name__ == "__main__":
    main()
