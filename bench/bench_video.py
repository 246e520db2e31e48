"""Video benchmark: end-to-end speed (threaded pipeline vs a naive loop), flat memory, temporal quality.

    python bench/bench_video.py [--model NAME|PATH] [--frames 16] [--long-frames 180] [--quality-frames 16]
                                [--no-write]

1. Speed: the first `--frames` frames of a real 1080p clip (people/facenet-pytorch_video.mp4), and the same
   frames scaled to 720p and 480p, through the `film` preset (decode + colorize + flow smoothing + merge with
   the full-resolution L + H.264 encode) with decode-ahead and encode threads and the default batch (auto: 8 on
   a GPU, 1 on a CPU), against a naive loop in the same run: one frame at a time, batch 1, no threads (no
   overlap of decode, inference and encode). Real-time factor = frames per second / the clip's frame rate.
2. Memory: RSS sampled every 30 frames over the first `--long-frames` frames of big_buck_bunny.mp4; a
   streaming pipeline stays flat however long the film.
3. Quality: real colour clips made grayscale (video/*.mp4 colour ones, the DAVIS sequences in video_frames/),
   the first `--quality-frames` frames of each, at the network's resolution (the frames are resized to the
   model's input size first, so every method sees the same L and no time goes into full-size merging). Warp
   error, flicker (temporal_metrics.py), colourfulness and PSNR against the true colour for none / ema /
   window / flow. Target: flow cuts warp error by >= 30% vs none while losing <= 0.3 dB PSNR.

Without `--model` the default model is used; when none is installed the speed part uses a freshly initialised
full-width U-Net (same cost) and the quality part is skipped (it needs a trained model).
Writes the section "## Video (bench/bench_video.py)" of BENCHMARKS.md. About 6 minutes on 2 busy CPU cores
(the frame counts are subsets chosen for that; raise them on a faster machine).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchlib import machine, publish  # noqa: E402

SECTION = "## Video (bench/bench_video.py)"
DATA = REPO / ".." / "shared" / "data"
SPEED_CLIP = DATA / "video" / "people" / "facenet-pytorch_video.mp4"
LONG_CLIP = DATA / "video" / "big_buck_bunny.mp4"
COLOUR_CLIPS = [
    "big_buck_bunny.mp4",
    "car-detection.mp4",
    "one-by-one-person-detection.mp4",
    "sam2_05_default_juggle.mp4",
    "sam2_bedroom.mp4",
]  # a-bomb_blast_effects_part.mp4 is B/W
METHODS = ["none", "ema", "window", "flow"]


def pick_model(name: str | None, tmp: Path) -> tuple[Path, str, bool]:
    """(checkpoint, description, trained?)"""
    from colorization import zoo
    from colorization.checkpoint import CheckpointError

    try:
        path = zoo.resolve_model(name or "default")
        info = zoo.describe(path)
        return path, f"`{info.name}` (version {info.version}, {info.params:,} parameters, {path.name})", True
    except CheckpointError as exc:
        if name:
            raise SystemExit(f"bench_video: {exc}") from None
        from colorization.checkpoint import save
        from colorization.models import UNet

        path = save(tmp / "untrained.pt", UNet(), name="untrained")
        return path, "a freshly initialised full-width U-Net (no model is installed: speed only)", False


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------- speed
def scaled_clip(src: Path, height: int, frames: int, dst: Path) -> Path:
    """The first `frames` frames of `src`, scaled to `height` (H.264, CRF 16), as a benchmark input."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        width = round(vin.width * height / vin.height / 2) * 2
        stream = out.add_stream("libx264", rate=vin.guessed_rate, options={"crf": "16", "preset": "fast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i, frame in enumerate(inp.decode(vin)):
            if i >= frames:
                break
            small = frame.reformat(width=width, height=height, format="yuv420p")
            small.pts = None
            out.mux(stream.encode(small))
        out.mux(stream.encode())
    return dst


def film_spec(model: Path, smoothing: str, naive: bool) -> dict:
    from colorization import presets

    spec = presets.get("film", model=str(model), smoothing=smoothing, batch_size=1 if naive else 0)
    spec["decode"] = {"name": "video", "prefetch": 0 if naive else 16, "hash": False}
    spec["encode"] = {"name": "video", "queue": 0 if naive else 8}
    return spec


def _timed(frames, cumulative: list[float], level: int):
    """Time spent getting each frame out of this level of the generator chain (includes the levels above)."""
    while True:
        start = time.perf_counter()
        try:
            frame = next(frames)
        except StopIteration:
            return
        finally:
            cumulative[level] += time.perf_counter() - start
        yield frame


def speed(model: Path, clip: Path, naive: bool, frames: int) -> tuple[float, Fraction, dict[str, float]]:
    """Frames per second, the clip's rate, and (naive loop only, where everything shares one thread) the
    share of the time each part takes."""
    from colorization import build_pipeline
    from colorization.media import probe

    pipeline = build_pipeline(film_spec(model, "flow", naive))
    names = ["decode"] + [type(stage).__name__ for stage in pipeline.stages]
    cumulative = [0.0] * len(names)
    if naive:
        decoder, stages = pipeline.decoder, pipeline.stages

        def timed_decoder(path):
            decoded = decoder(path)
            decoded.frames = _timed(iter(decoded.frames), cumulative, 0)
            return decoded

        pipeline.decoder = timed_decoder
        pipeline.stages = [
            (lambda fr, st=st, k=k: _timed(iter(st(fr)), cumulative, k + 1)) for k, st in enumerate(stages)
        ]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = pipeline.run(clip, Path(tmp) / "out.mp4", window=(0, frames or None))
        seconds = time.perf_counter() - start
    shares = {}
    if naive:
        exclusive = [cumulative[0]] + [cumulative[k] - cumulative[k - 1] for k in range(1, len(names))]
        shares = {name: t / seconds for name, t in zip(names, exclusive, strict=True)}
        shares["encode"] = 1 - cumulative[-1] / seconds
    return result.frames / seconds, probe(clip)["fps"], shares


def memory(model: Path, frames: int) -> list[tuple[int, float]]:
    from colorization import build_pipeline

    samples: list[tuple[int, float]] = []

    def progress(done: int, total: int | None) -> None:
        if done % 30 == 0 and done < frames:  # the last frames come after a smaller final batch: left out
            samples.append((done, rss_mb()))

    pipeline = build_pipeline(film_spec(model, "flow", False))
    with tempfile.TemporaryDirectory() as tmp:
        pipeline.run(LONG_CLIP, Path(tmp) / "long.mp4", on_progress=progress, window=(0, frames))
    return samples


# ---------------------------------------------------------------- quality
def sequences(frames: int) -> list[tuple[str, list[np.ndarray]]]:
    """(name, first `frames` RGB uint8 frames) of every real colour clip and DAVIS sequence found."""
    from colorization.frames import FrameWindow
    from colorization.media import FilmReader, read_rgb8

    found = []
    for name in COLOUR_CLIPS:
        path = DATA / "video" / name
        if path.is_file():
            decoded = FilmReader(prefetch=0, hash=False)(path, FrameWindow(0, frames))
            found.append((name, [frame.image for frame in decoded.frames]))
    for folder in sorted((DATA / "video_frames").glob("davis_*")):
        files = sorted(folder.glob("*.jpg"))[:frames]
        found.append((folder.name, [read_rgb8(p) for p in files]))
    return found


def quality(model: Path, frames: int) -> tuple[dict, list[tuple[str, dict]]]:
    import cv2

    from colorization.color import lab_to_rgb, rgb_to_lab
    from colorization.frames import Frame
    from colorization.metrics import psnr
    from colorization.stages import create
    from colorization.stages.colorize import UNetColorizer
    from colorization.temporal_metrics import TemporalMeter

    colorizer = UNetColorizer(checkpoint=model, batch_size=8, device="auto")
    size = colorizer.size
    rows: list[tuple[str, dict]] = []
    totals: dict[str, dict[str, list[float]]] = {}
    for name, rgb_frames in sequences(frames):
        truth = [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in rgb_frames]
        lab = [rgb_to_lab(t.astype(np.float32) / 255.0) for t in truth]
        L = [x[..., :1] for x in lab]
        gray = [
            np.round(lab_to_rgb(np.concatenate([l_, np.zeros_like(l_), np.zeros_like(l_)], -1)) * 255).astype(
                np.uint8
            )
            for l_ in L
        ]
        preds = [f.ab.copy() for f in colorizer(Frame(index=i, image=g) for i, g in enumerate(gray))]
        result: dict[str, dict[str, float]] = {}
        true_meter = TemporalMeter()
        for i, g in enumerate(gray):
            true_meter.update(g[..., 0], lab[i][..., 1:])
        result["truth"] = {**true_meter.summary(), "psnr": float("nan")}
        for method in METHODS:
            stage = create("temporal", method)
            meter, psnrs = TemporalMeter(), []
            source = (
                Frame(index=i, image=g, ab=p.copy()) for i, (g, p) in enumerate(zip(gray, preds, strict=True))
            )
            for f in stage(source):
                meter.update(gray[f.index][..., 0], f.ab, cut=f.index > 0 and f.info.get("scene_cut", False))
                psnrs.append(psnr(lab_to_rgb(np.concatenate([L[f.index], f.ab], -1)), truth[f.index]))
            result[method] = {**meter.summary(), "psnr": float(np.mean(psnrs))}
        for method, values in result.items():
            for key, value in values.items():
                totals.setdefault(method, {}).setdefault(key, []).append(value * len(gray))
            totals[method].setdefault("frames", []).append(len(gray))
        rows.append((f"{name} ({len(gray)})", result))
        print(
            f"{name}: "
            + ", ".join(f"{m} we {r['warp_error']:.2f} psnr {r['psnr']:.2f}" for m, r in result.items()),
            flush=True,
        )
    overall = {
        m: {k: float(np.nansum(v)) / sum(t["frames"]) for k, v in t.items() if k != "frames"}
        for m, t in totals.items()
    }
    return overall, rows


# ---------------------------------------------------------------- report
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default=None, help="model name or checkpoint path (default: the default model)"
    )
    parser.add_argument("--frames", type=int, default=16, help="frames per speed run")
    parser.add_argument("--long-frames", type=int, default=180, help="frames of the memory run")
    parser.add_argument(
        "--quality-frames", type=int, default=16, help="frames per sequence for the quality table"
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's own choice, one per core)",
    )
    parser.add_argument(
        "--parts", default="speed,memory,quality", help="which parts to run (comma-separated)"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    import torch

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    if not SPEED_CLIP.is_file():
        raise SystemExit(
            f"bench_video: the real clips are missing ({SPEED_CLIP}); see ../shared/data/MANIFEST.md"
        )
    started = time.perf_counter()
    load = os.getloadavg()[0]
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model, model_text, trained = pick_model(args.model, tmp)
        print(f"model: {model_text}", flush=True)
        clips = {1080: SPEED_CLIP}
        speed_rows = []
        for height in (720, 480) if "speed" in parts else ():
            clips[height] = scaled_clip(SPEED_CLIP, height, args.frames, tmp / f"clip{height}.mp4")
        for height in (480, 720, 1080) if "speed" in parts else ():
            fast, fps, _ = speed(model, clips[height], naive=False, frames=args.frames)
            slow, _, shares = speed(model, clips[height], naive=True, frames=args.frames)
            speed_rows.append((height, fps, fast, slow, shares))
            print(f"{height}p: pipeline {fast:.2f} fps, naive {slow:.2f} fps", flush=True)
        mem = memory(model, args.long_frames) if "memory" in parts else []
        print("memory:", mem, flush=True)
        overall, rows = quality(model, args.quality_frames) if trained and "quality" in parts else ({}, [])
    took = time.perf_counter() - started

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_note = (
        " (more than the cores: other work shared the CPU, so the figures are pessimistic)."
        if load > (os.cpu_count() or 1)
        else "."
    )
    lines += [
        SECTION,
        "",
        f"{when} on {machine()}, {torch.get_num_threads()} torch threads. Model: {model_text}. Total run "
        f"time {took:.0f} s. Load average at the start: {load:.1f}{load_note}",
    ]
    if speed_rows:
        lines += [
            "",
            f"End to end (`film` preset, flow smoothing: decode, network, flow, merge with the full-resolution "
            f"L, H.264 CRF 18 encode) on the first {args.frames} frames of {SPEED_CLIP.name} (25 fps) and the "
            'same frames scaled down. "Pipeline": decode-ahead and encode threads, the default batch (auto: '
            '8 on a GPU, 1 on a CPU); "naive": one frame at a time, batch 1, no threads, same stages, measured in the same run.',
            "",
            "| clip | pipeline fps | real-time factor | naive fps | naive real-time factor | speed-up |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for height, fps, fast, slow, _ in speed_rows:
            lines.append(
                f"| {height}p | {fast:.2f} | {fast / float(fps):.3f} | {slow:.2f} | {slow / float(fps):.3f} "
                f"| {fast / slow:.2f}x |"
            )
        lines += [
            "",
            "Where the naive loop's time goes (one thread, so the parts add up; the threaded pipeline "
            "hides decode and encode behind the rest, so it cannot gain more than their share):",
            "",
            "| clip | " + " | ".join(speed_rows[0][4]) + " |",
            "| --- |" + " --- |" * len(speed_rows[0][4]),
        ]
        for height, _, _, _, shares in speed_rows:
            lines.append(f"| {height}p | " + " | ".join(f"{100 * v:.0f}%" for v in shares.values()) + " |")
    if mem:
        first = next((r for n, r in mem if n >= 60), mem[0][1])
        growth = max(r for _, r in mem) - first
        verdict = (
            "flat: frames stream through bounded queues; nothing is kept per frame"
            if growth < 50
            else "NOT flat: investigate"
        )
        lines += [
            "",
            f"Memory over the first {args.long_frames} frames of {LONG_CLIP.name} (640x360): RSS "
            + ", ".join(f"{r:.0f} MB at frame {n}" for n, r in mem[:: max(1, len(mem) // 6)])
            + f"; growth after frame 60: {growth:+.0f} MB ({verdict}).",
        ]
    if overall:
        lines += [
            "",
            f"Temporal quality on real colour clips made grayscale: the first {args.quality_frames} frames "
            f"of each of {len(rows)} sequences ({', '.join(COLOUR_CLIPS)} and the DAVIS sequences), at the "
            "network's resolution. Warp error: mean ab distance between a frame and its flow-warped "
            "predecessor over non-occluded pixels; flicker: mean ab change on static pixels (both in Lab "
            "units, lower is steadier); colourfulness: Hasler & Suesstrunk; PSNR: against the true colour "
            '(8-bit RGB). "truth" is the real colour video measured the same way.',
            "",
            "| method | warp error | vs none | flicker | colourfulness | PSNR (dB) | vs none |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        base = overall["none"]
        for method in ["truth", *METHODS]:
            r = overall[method]
            rel = "" if method == "truth" else f"{100 * (r['warp_error'] / base['warp_error'] - 1):+.0f}%"
            dp = "" if method == "truth" else f"{r['psnr'] - base['psnr']:+.2f}"
            ps = "" if method == "truth" else f"{r['psnr']:.2f}"
            lines.append(
                f"| {method} | {r['warp_error']:.2f} | {rel} | {r['flicker']:.2f} | {r['colourfulness']:.1f} | "
                f"{ps} | {dp} |"
            )
        if base["warp_error"] < 0.2 * overall["truth"]["warp_error"]:
            lines += [
                "",
                "**Caution:** this model's colours barely change from frame to frame (its warp error is far "
                "below the real colour video's), as an undertrained model's near-constant colours do; the "
                "table says little about smoothing. Run again with the trained model (`--model PATH`).",
            ]
        flow = overall["flow"]
        cut = 1 - flow["warp_error"] / base["warp_error"]
        loss = base["psnr"] - flow["psnr"]
        met = cut >= 0.30 and loss <= 0.3
        lines += [
            "",
            f"Target (flow: warp error -30% or better, PSNR loss <= 0.3 dB): {'met' if met else 'NOT met'} "
            f"(warp error {-100 * cut:+.0f}%, PSNR {-loss:+.2f} dB).",
            "",
            "<details><summary>Per sequence (warp error / PSNR)</summary>",
            "",
            "| sequence | " + " | ".join(METHODS) + " |",
            "| --- |" + " --- |" * len(METHODS),
        ]
        for name, result in rows:
            lines.append(
                f"| {name} | "
                + " | ".join(f"{result[m]['warp_error']:.2f} / {result[m]['psnr']:.2f}" for m in METHODS)
                + " |"
            )
        lines += ["", "</details>"]
    else:
        lines += ["", "Temporal quality: not measured (no trained model installed; run with `--model PATH`)."]
    publish(SECTION, lines, write=not args.no_write)


if __name__ == "__main__":
    main()
