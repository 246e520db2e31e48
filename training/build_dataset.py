"""Colour films and image folders -> a frame dataset (shards of square Lab frames) + manifest.json. Offline step.

Per source: sample frames (films: every `every_s` seconds and at scene changes), drop dark frames, drop
near-gray frames, keep frames with 1..5 persons (films; image folders optionally), centre-crop to a
square and resize it to 224x224 when it is larger (a smaller square, such as a 128 px scene photograph, keeps
its own size: upscaling adds no information and would store it 3 times bigger), drop near-duplicates
(perceptual hash), convert to Lab with `colorization.color` and append to shards of one frame size each:

    shard_00000_L.npy   (N, S, S) uint8   L * 2.55 rounded (L in 0..100 -> 0..255); S <= 224
    shard_00000_ab.npy  (N, 2, S, S) int8  a, b rounded, clipped to -128..127
    index.csv           shard, row, split, group, source, time_s, phash  (one line per frame)
    manifest.json       sources (SHA-256), counts after each filter, thresholds, detector, splits, shard sizes

Memory stays bounded whatever the number of sources: one shard per frame size is held before it is written.

Choices (recorded in the manifest):
- Centre crop, not letterbox: padding bars would teach the network that flat borders are gray.
- Dark threshold 40 (mean gray level 0..255): fades and black screens sit below ~20 and night scenes below
  ~35, while dim interiors with visible faces are 45+; such frames carry almost no colour to learn from.
- The person filter applies to film frames only by default: the thesis filtered film frames (portrait-centric),
  while the image folders here are curated photographs whose landscapes and objects teach colours the
  historical photos need too. `filter_images=True` applies it to images as well.
- Splits are assigned per group by a hash of the group id (films: the whole film by default, or each scene
  with split_by="scene"; images: each image), so no scene is in two splits, and appending sources never moves
  frames that were already assigned.
- Incremental: a source whose SHA-256 is already in the manifest is skipped; new frames go to new shards.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from colorization import media
from colorization.color import rgb_to_lab

log = logging.getLogger(__name__)

MANIFEST_FORMAT = "colorarchive-frames/1"
SIZE = 224  # frames larger than this are shrunk to it
MIN_SIZE = 128  # and smaller ones enlarged to this (the training crop); sizes in between are kept
MULTIPLE = 16  # a kept side is cut to a multiple of the U-Net's stride (2**depth)
IMAGE_SUFFIXES = media.policy.IMAGE_SUFFIXES  # the types and the pixel limit inference accepts
VIDEO_SUFFIXES = media.policy.FILM_SUFFIXES
MAX_PIXELS = media.policy.MAX_PIXELS
INDEX_FIELDS = ["shard", "row", "split", "group", "source", "time_s", "phash"]


class BuildError(RuntimeError):
    pass


@dataclass
class Options:
    every_s: float = 1.0  # film sampling interval, seconds
    scene_threshold: float = 30.0  # mean abs difference (0..255) of 64x36 gray thumbnails that marks a cut
    dark_threshold: float = 40.0  # frames with mean gray level below this are dropped (see module docstring)
    gray_threshold: float = 2.0  # frames with mean chroma (max-min of RGB, 0..255) below this are not colour
    person_filter: bool = True  # False: no person filter (recorded in the manifest)
    detector: str | None = None  # .onnx / ultralytics .pt; None = the default YOLOv5n ONNX export
    persons: tuple[int, int] = (1, 5)
    filter_images: bool = False  # apply the person filter to image folders too
    dedupe_distance: int = 4  # phash Hamming distance at or below which a frame is a near-duplicate
    splits: tuple[float, float, float] = (0.81, 0.09, 0.10)  # train / val / test
    split_by: str = "film"  # films: "film" (whole film in one split) or "scene"
    shard_size: int = 512
    max_frames_per_film: int = 0  # 0 = no limit

    def record(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["persons"], d["splits"] = list(self.persons), list(self.splits)
        return d


@dataclass
class SourceStats:
    path: str
    kind: str
    sha256: str
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None


sha256_file = media.sha256_file


def centre_square(rgb: np.ndarray, size: int = SIZE, min_size: int = MIN_SIZE) -> np.ndarray:
    """The centred square of `rgb`, shrunk to `size` when larger, enlarged to `min_size` when smaller (a training
    crop must fit); in between it keeps its own pixels, its side cut to a multiple of MULTIPLE (150 -> 144) so a
    whole frame passes through the U-Net."""
    h, w = rgb.shape[:2]
    s = min(h, w)
    if min_size <= s <= size:
        s -= s % MULTIPLE
    top, left = (h - s) // 2, (w - s) // 2
    crop = rgb[top : top + s, left : left + s]
    if min_size <= s <= size:
        return np.ascontiguousarray(crop)
    target = size if s > size else min_size
    return cv2.resize(crop, (target, target), interpolation=cv2.INTER_AREA if s > size else cv2.INTER_CUBIC)


def encode_lab(rgb224: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = rgb_to_lab(rgb224.astype(np.float32) / 255.0)
    L = np.clip(np.round(lab[..., 0] * 2.55), 0, 255).astype(np.uint8)
    ab = np.clip(np.round(lab[..., 1:]), -128, 127).astype(np.int8).transpose(2, 0, 1)
    return L, np.ascontiguousarray(ab)


def _phash(rgb224: np.ndarray) -> int:
    import imagehash

    return int(str(imagehash.phash(Image.fromarray(rgb224))), 16)


def _split_of(group: str, splits: tuple[float, float, float]) -> str:
    u = int(hashlib.sha256(group.encode()).hexdigest()[:15], 16) / 16**15
    if u < splits[0]:
        return "train"
    return "val" if u < splits[0] + splits[1] else "test"


# ------------------------------------------------------------------ decoding
def iter_film(
    path: Path, every_s: float, scene_threshold: float, stats: dict | None = None
) -> Iterator[tuple[np.ndarray, float, int]]:
    """Yield (rgb uint8, time_s, scene index) at the sampling points; `stats` gets "decoded" and "scenes".
    Opened as inference opens a film (colorization.media.containers): the same video stream (a cover picture
    does not count) and the same pixel limit."""
    stats = {} if stats is None else stats
    import av

    try:
        container = media.containers.open_input(path)
    except (media.VideoError, OSError) as exc:
        raise BuildError(str(exc)) from None
    with container:
        try:
            stream = media.containers.video_stream(container, path)
            media.containers.check_size(path, stream.codec_context.width, stream.codec_context.height)
        except media.VideoError as exc:
            raise BuildError(str(exc)) from None
        stream.thread_type = "AUTO"
        prev, next_t, scene, n = None, 0.0, 0, 0
        try:
            for frame in container.decode(stream):
                n += 1
                stats["decoded"] = n
                t = float(frame.time) if frame.time is not None else n / float(stream.average_rate or 25)
                thumb = frame.reformat(width=64, height=36, format="gray").to_ndarray().astype(np.int16)
                cut = prev is not None and float(np.mean(np.abs(thumb - prev))) > scene_threshold
                prev = thumb
                if cut:
                    scene += 1
                    stats["scenes"] = scene + 1
                if cut or t >= next_t:
                    next_t = t + every_s
                    yield frame.to_ndarray(format="rgb24"), t, scene
        except av.error.FFmpegError as exc:
            if n == 0:
                raise BuildError(f"{path}: no decodable frames ({exc})") from None
            log.warning("%s: decoding stopped after %d frames (%s)", path, n, exc)
    if n == 0:
        raise BuildError(f"{path}: no decodable frames")


def read_image(path: Path) -> np.ndarray:
    """Upright 8-bit RGB, read as inference reads it (EXIF orientation applied, the same pixel limit)."""
    try:
        return media.read_rgb8(path)
    except media.ImageError as exc:
        raise BuildError(str(exc)) from None


def expand_sources(sources: list[str | Path]) -> list[tuple[Path, str]]:
    """Paths -> [(file, "film" | "image")]: folders contribute their images and films (recursively, sorted)."""
    out: list[tuple[Path, str]] = []
    for src in map(Path, sources):
        if src.is_dir():
            files = sorted(
                p
                for p in src.rglob("*")
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
            )
            if not files:
                known = ", ".join(sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES))
                raise BuildError(f"{src}: folder holds no images or films ({known})")
            out.extend((p, "image" if p.suffix.lower() in IMAGE_SUFFIXES else "film") for p in files)
        elif src.is_file():
            suffix = src.suffix.lower()
            if suffix in IMAGE_SUFFIXES:
                out.append((src, "image"))
            elif suffix in VIDEO_SUFFIXES:
                out.append((src, "film"))
            else:
                raise BuildError(
                    f"{src}: unknown source type {suffix!r} (a film, an image or a folder of images)"
                )
        else:
            raise BuildError(f"{src}: no such file or folder")
    return out


# ------------------------------------------------------------------ writing
def _save_npy(path: Path, arr: np.ndarray) -> None:
    media.atomic_write(path, lambda f: np.save(f, arr))


class ShardWriter:
    """Appends frames to shards of `shard_size` frames, one frame size per shard: frames of each size wait in
    their own buffer, so at most one shard per size is in memory."""

    def __init__(self, out: Path, first_shard: int, shard_size: int):
        self.out, self.next_shard, self.size = out, first_shard, shard_size
        self.pending: dict[int, tuple[list[np.ndarray], list[np.ndarray], list[dict]]] = {}
        self.written: list[dict] = []

    def add(self, L: np.ndarray, ab: np.ndarray, row: dict) -> None:
        side = L.shape[-1]
        Ls, abs_, rows = self.pending.setdefault(side, ([], [], []))
        Ls.append(L)
        abs_.append(ab)
        rows.append(row)
        if len(Ls) >= self.size:
            self._write(side)

    def _write(self, side: int) -> None:
        Ls, abs_, rows = self.pending.pop(side)
        name = f"shard_{self.next_shard:05d}"
        _save_npy(self.out / f"{name}_L.npy", np.stack(Ls))
        _save_npy(self.out / f"{name}_ab.npy", np.stack(abs_))
        for i, row in enumerate(rows):
            row.update(shard=name, row=i)
        self.written.append({"name": name, "count": len(Ls), "size": side, "rows": rows})
        self.next_shard += 1

    def flush(self) -> None:
        for side in sorted(self.pending):
            self._write(side)


def read_index(out: Path) -> list[dict]:
    path = out / "index.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _write_index(out: Path, rows: list[dict]) -> None:
    with media.atomic_path(out / "index.csv") as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=INDEX_FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r[k] for k in INDEX_FIELDS})


def load_manifest(out: Path) -> dict | None:
    path = Path(out) / "manifest.json"
    if not path.is_file():
        return None
    try:
        m = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BuildError(f"{path}: corrupt manifest ({exc})") from None
    if m.get("format") != MANIFEST_FORMAT:
        raise BuildError(f"{path}: not a Colorarchive frame dataset manifest")
    return m


# ------------------------------------------------------------------ the build
@contextmanager
def build_lock(out: Path) -> Iterator[None]:
    """One build at a time per dataset folder (two retraining runs must not append the same shard numbers);
    a second build waits for the first and then sees its sources as known."""
    import fcntl  # POSIX: the workers run on Linux

    with open(out / ".build.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class FrameFilter:
    """The per-frame filters, in order: dark, near-gray, persons, near-duplicate; a frame that passes them all
    is encoded and handed to the shard writer. Counts go to the source's SourceStats."""

    def __init__(self, opts: Options, detector: Any, hashes: np.ndarray, writer: ShardWriter):
        self.opts, self.detector, self.writer = opts, detector, writer
        # the kept frames' hashes in a buffer that doubles when full (appending one by one would copy it each time)
        self._hashes, self._n = np.zeros(max(1024, 2 * len(hashes)), dtype=np.uint64), len(hashes)
        self._hashes[: self._n] = hashes

    @property
    def hashes(self) -> np.ndarray:
        return self._hashes[: self._n]

    def _remember(self, ph: int) -> None:
        if self._n == len(self._hashes):
            self._hashes = np.concatenate([self._hashes, np.zeros_like(self._hashes)])
        self._hashes[self._n] = np.uint64(ph)
        self._n += 1

    def reject(self, rgb: np.ndarray, square: np.ndarray, kind: str) -> str | None:
        """The filter that drops this frame, or None."""
        opts = self.opts
        if float(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).mean()) < opts.dark_threshold:
            return "dark"
        if float(np.mean(square.max(axis=2).astype(np.int16) - square.min(axis=2))) < opts.gray_threshold:
            return "gray"
        if self.detector is not None and (kind == "film" or opts.filter_images):
            side = min(rgb.shape[:2])
            top, left = (rgb.shape[0] - side) // 2, (rgb.shape[1] - side) // 2
            n = self.detector.count_persons(np.ascontiguousarray(rgb[top : top + side, left : left + side]))
            if not opts.persons[0] <= n <= opts.persons[1]:
                return "persons"
        return None

    def offer(self, rgb: np.ndarray, kind: str, group: str, sha: str, t: float, st: SourceStats) -> None:
        st.counts["sampled"] = st.counts.get("sampled", 0) + 1
        square = centre_square(rgb)
        reason = self.reject(rgb, square, kind)
        ph = _phash(square) if reason is None else 0
        if (
            reason is None
            and len(self.hashes)
            and int(np.bitwise_count(self.hashes ^ np.uint64(ph)).min()) <= self.opts.dedupe_distance
        ):
            reason = "duplicates"
        if reason is not None:
            st.counts[reason] = st.counts.get(reason, 0) + 1
            return
        self._remember(ph)
        L, ab = encode_lab(square)
        row = {
            "split": _split_of(group, self.opts.splits),
            "group": group,
            "source": sha[:16],
            "time_s": f"{t:.3f}",
            "phash": f"{ph:016x}",
        }
        self.writer.add(L, ab, row)
        st.counts["kept"] = st.counts.get("kept", 0) + 1


def _new_manifest() -> dict:
    return {
        "format": MANIFEST_FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": SIZE,
        "resize": "centre crop to square; over 224 px shrunk to 224 (INTER_AREA), under 128 enlarged to 128 (INTER_CUBIC), "
        "sizes in between kept, cut to a multiple of 16",
        "encoding": {
            "L": "uint8 = round(L * 2.55), L in 0..100",
            "ab": "int8 = round(ab), clipped to -128..127",
            "layout": "shard_N_L.npy (N, S, S); shard_N_ab.npy (N, 2, S, S); S = the shard's size (shards[].size)",
        },
        "sources": [],
        "shards": [],
        "builds": [],
    }


def _commit(
    out: Path,
    manifest: dict,
    index: list[dict],
    writer: ShardWriter,
    new_stats: list[SourceStats],
    build_record: dict,
) -> None:
    """Add the written shards and new sources to the index and manifest, and write both (index first)."""
    for shard in writer.written:
        index.extend(shard.pop("rows"))
        manifest["shards"].append(shard)
    manifest["sources"].extend(
        {
            "path": s.path,
            "kind": s.kind,
            "sha256": s.sha256,
            "counts": s.counts,
            **({"error": s.error} if s.error else {}),
        }
        for s in new_stats
    )
    manifest["builds"].append(build_record)
    manifest["updated"] = datetime.now(UTC).isoformat(timespec="seconds")
    frames: dict[str, int] = {"train": 0, "val": 0, "test": 0}
    groups: dict[str, set] = {"train": set(), "val": set(), "test": set()}
    for r in index:
        frames[r["split"]] += 1
        groups[r["split"]].add(r["group"])
    manifest["frames"] = len(index)
    manifest["splits"] = {k: {"frames": frames[k], "groups": len(groups[k])} for k in frames}
    _write_index(out, index)
    media.atomic_write(out / "manifest.json", json.dumps(manifest, indent=1).encode())


def _rollback(out: Path, writer: ShardWriter, old_index: list[dict]) -> None:
    """After a failure: the index as it was, and no new shard files (the manifest is written last)."""
    if (out / "index.csv").is_file():  # _commit may have written the new one already
        _write_index(out, old_index)
    for shard in [*writer.written, {"name": f"shard_{writer.next_shard:05d}"}]:
        for part in ("L", "ab"):
            (out / f"{shard['name']}_{part}.npy").unlink(missing_ok=True)


def build(
    sources: list[str | Path],
    out_dir: str | Path,
    on_progress: Callable[[str], None] | None = None,
    **options: Any,
) -> dict:
    """Build or extend the dataset in `out_dir` from films / image folders; returns the manifest dict."""
    opts = Options(**options)
    if opts.split_by not in ("film", "scene"):
        raise BuildError(f"split_by must be 'film' or 'scene', not {opts.split_by!r}")
    if abs(sum(opts.splits) - 1.0) > 1e-6:
        raise BuildError(f"splits {opts.splits} must sum to 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say = on_progress or (lambda msg: log.info(msg))
    files = expand_sources(sources)

    detector = None
    if opts.person_filter:
        from training.detect import load_detector

        try:
            detector = load_detector(opts.detector)
        except Exception as exc:
            raise BuildError(str(exc)) from None

    with build_lock(out):
        manifest = load_manifest(out) or _new_manifest()
        known = {s["sha256"] for s in manifest["sources"]}
        index = read_index(out)
        old_index = list(index)
        writer = ShardWriter(out, first_shard=len(manifest["shards"]), shard_size=opts.shard_size)
        frame_filter = FrameFilter(
            opts, detector, np.array([int(r["phash"], 16) for r in index], dtype=np.uint64), writer
        )
        totals = dict.fromkeys(("sampled", "dark", "gray", "persons", "duplicates", "kept"), 0)
        new_stats: list[SourceStats] = []
        start, skipped = time.perf_counter(), 0
        try:
            bar = tqdm(files, desc=f"build {out.name}", unit="file", disable=None, mininterval=2)
            for i, (path, kind) in enumerate(bar):
                sha = sha256_file(path)
                if sha in known:
                    skipped += 1
                    continue
                known.add(sha)
                st = SourceStats(path=str(path), kind=kind, sha256=sha)
                try:
                    if kind == "image":
                        frame_filter.offer(read_image(path), kind, f"img:{sha[:16]}", sha, 0.0, st)
                    else:
                        film_stats = {"decoded": 0, "scenes": 1}
                        for rgb, t, scene in iter_film(path, opts.every_s, opts.scene_threshold, film_stats):
                            group = f"film:{sha[:16]}" + (f":s{scene}" if opts.split_by == "scene" else "")
                            frame_filter.offer(rgb, kind, group, sha, t, st)
                            if (
                                opts.max_frames_per_film
                                and st.counts.get("kept", 0) >= opts.max_frames_per_film
                            ):
                                break
                        st.counts.update(film_stats)
                except BuildError as exc:
                    st.error = str(exc)
                    log.warning("skipped: %s", exc)
                new_stats.append(st)
                for k in totals:
                    totals[k] += st.counts.get(k, 0)
                if kind == "film" or (i + 1) % 1000 == 0:
                    say(
                        f"[{i + 1}/{len(files)}] {path.name}: {st.counts}"
                        + (f" ERROR {st.error}" if st.error else "")
                    )
            writer.flush()
            seconds = time.perf_counter() - start
            _commit(
                out,
                manifest,
                index,
                writer,
                new_stats,
                {
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "options": opts.record(),
                    "detector": detector.name if detector else None,
                    "person_filter": ("films and images" if opts.filter_images else "films only")
                    if detector
                    else "off",
                    "new_sources": len(new_stats),
                    "skipped_known_sources": skipped,
                    "counts": totals,
                    "seconds": round(seconds, 1),
                    "frames_per_s": round(totals["sampled"] / seconds, 2) if seconds > 0 else None,
                },
            )
        except BaseException:
            _rollback(out, writer, old_index)
            raise  # the manifest and index on disk still describe the dataset as it was
        say(
            f"built {out}: {len(new_stats)} new sources ({skipped} known, skipped), {totals}, "
            f"{seconds:.0f} s ({manifest['builds'][-1]['frames_per_s']} sampled frames/s); splits {manifest['splits']}"
        )
        return manifest
