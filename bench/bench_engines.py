"""Engines side by side on a CPU, in one run: eager PyTorch ("torch") against ONNX Runtime ("onnx").

    python bench/bench_engines.py [--images 24] [--megapixels 1] [--frames 16] [--threads 2] [--no-write]

1. Network: one forward pass of the default model at a 4:3 photo's network shape (224 x 288), best of 3
   rounds of 4, per engine.
2. Photos: `--images` grey scans of about `--megapixels` (crops of the real archive photos in
   ../shared/data/historical_bw) through `colorize image` (the `photo` preset, colorization.cli) with each
   engine, against two loops over the same photos: the naive loop of issue 26 (`naive_loop`: the default
   model in eager PyTorch at 224 x 224, one photo at a time, scikit-image's float64 Lab at full resolution:
   kept as it is, so the ratio measures the product) and one `pipeline.run` per photo with engine torch.
3. Film: the first `--frames` frames of people/facenet-pytorch_video.mp4 scaled to 480p through the `film`
   preset (flow smoothing, threaded pipeline), with each engine (bench/bench_video.py's measure).

Each engine runs with `--threads` threads (PyTorch's set_num_threads, which ONNX Runtime's session copies).
Writes the whole section "## Engines (bench/bench_engines.py)" of BENCHMARKS.md: the paragraph saying what
is measured, the tables and the notes that read them, figures filled in (`intro`, `notes`), so a rerun keeps
the section whole.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from benchlib import load_average, machine, publish  # noqa: E402

SECTION = "## Engines (bench/bench_engines.py)"
DATA = REPO / ".." / "shared" / "data"
ENGINES = ("torch", "onnx")
NAIVE = "naive loop (issue 26: torch at 224 x 224, scikit-image Lab at full resolution)"
RUN_LOOP = "`pipeline.run` loop (torch)"
TARGET = 3.0  # issue 26: `colorize image` and the 480p film at least 3x


def network(threads: int) -> dict[str, float]:
    """Seconds per forward pass at 224 x 288, per engine (best of 3 rounds of 4)."""
    from colorization.stages import create

    out = {}
    for engine in ENGINES:
        stage = create("colorize", "unet", device="cpu", engine=engine, threads=threads)
        L = np.stack([np.full((224, 288), 50, np.float32)])
        stage.predict(L)  # warm-up (and the export, the first time)
        rounds = []
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(4):
                stage.predict(L)
            rounds.append((time.perf_counter() - start) / 4)
        out[engine] = min(rounds)
    return out


def make_scans(count: int, megapixels: float, folder: Path) -> list[Path]:
    """`count` grey JPEGs of about `megapixels`, cut from the real archive photos (cycled)."""
    from PIL import Image

    photos = sorted(p for p in (DATA / "historical_bw").iterdir() if p.suffix.lower() in {".jpg", ".png"})
    if not photos:
        raise SystemExit(f"no archive photos at {DATA / 'historical_bw'}")
    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(width * 3 / 4))
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(count):
        im = (
            Image.open(photos[k % len(photos)]).convert("L").resize((width, height), Image.Resampling.LANCZOS)
        )
        paths.append(folder / f"scan-{k:02d}.jpg")
        im.save(paths[-1], "JPEG", quality=90)
    return paths


def naive_loop(scans: list[Path], folder: Path) -> None:
    """Issue 26's naive loop, kept as it is: the default model in eager PyTorch at 224 x 224, one photo at a
    time, scikit-image's float64 Lab at full resolution, ab resized bilinearly, Pillow's JPEG."""
    import cv2
    import torch
    from PIL import Image
    from skimage import color

    from colorization import zoo
    from colorization.checkpoint import load_model

    model, _ = load_model(zoo.resolve_model("default"), "cpu")
    box = torch.tensor([[-1.0, 1.0, -1.0, 1.0]])
    for k, src in enumerate(scans):
        rgb = np.asarray(Image.open(src).convert("RGB"))
        lab = color.rgb2lab(rgb)
        small = cv2.resize(lab[..., 0].astype(np.float32), (224, 224), interpolation=cv2.INTER_AREA)
        with torch.inference_mode():
            ab = model(torch.from_numpy(small / 100.0)[None, None], box)[0].numpy().transpose(1, 2, 0) * 128.0
        lab[..., 1:] = cv2.resize(ab, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
        out = (np.clip(color.lab2rgb(lab), 0, 1) * 255).round().astype(np.uint8)
        Image.fromarray(out).save(folder / f"naive-{k:02d}.jpg", "JPEG", quality=92)


def photos(scans: list[Path], folder: Path) -> dict[str, float]:
    """Photos per second: the naive loop, a `pipeline.run` loop (torch), then `colorize image` per engine."""
    from colorization import build_pipeline, presets
    from colorization.cli import main as cli

    rates = {}
    naive_loop(scans[:1], folder)  # warm-up
    start = time.perf_counter()
    naive_loop(scans, folder)
    rates[NAIVE] = len(scans) / (time.perf_counter() - start)
    pipeline = build_pipeline(presets.get("photo", device="cpu", engine="torch", batch_size=1))
    pipeline.run(scans[0], folder / "warm.jpg")
    start = time.perf_counter()
    for k, src in enumerate(scans):
        pipeline.run(src, folder / f"run-{k:02d}.jpg")
    rates[RUN_LOOP] = len(scans) / (time.perf_counter() - start)
    for engine in ENGINES:
        # a warm-up run, so the one-off ONNX export and model loading are not counted
        cli(["image", str(scans[0]), "-o", str(folder / f"warm-{engine}"), "--engine", engine, "-q"])
        start = time.perf_counter()
        code = cli(["image", str(scans[0].parent), "-o", str(folder / engine), "--engine", engine, "-q"])
        if code != 0:
            raise SystemExit(f"colorize image --engine {engine} failed ({code})")
        rates[f"colorize image --engine {engine}"] = len(scans) / (time.perf_counter() - start)
    return rates


def film(frames: int, folder: Path) -> dict[str, float]:
    """Frames per second of the 480p clip through the threaded `film` pipeline, per engine."""
    from bench_video import SPEED_CLIP, scaled_clip, speed

    from colorization import engines, zoo

    clip = scaled_clip(SPEED_CLIP, 480, frames, folder / "480p.mp4")
    model = zoo.resolve_model("default")
    fps = {}
    for engine in ENGINES:
        os.environ[engines.ENGINE_ENV] = engine  # the film preset's stage reads it (engine "auto")
        speed(model, clip, False, 2)  # warm-up
        fps[engine] = speed(model, clip, False, frames)[0]
    os.environ.pop(engines.ENGINE_ENV, None)
    return fps


def intro() -> str:
    """The paragraph that says what the section measures (model, ONNX Runtime's version, the tolerance)."""
    import onnxruntime

    from colorization import engines, zoo

    model = zoo.resolve_model("default").stem
    return (
        "`bench/bench_engines.py` puts eager PyTorch and ONNX Runtime (`--engine torch|onnx|auto`, "
        "`$COLORARCHIVE_ENGINE`, colorization/engines.py) side by side in one run on a CPU, with the default "
        f"model (`{model}`): one forward pass; `colorize image` on grey 1-megapixel scans with each engine, "
        "against issue 26's naive loop (eager PyTorch at 224 x 224, one photo at a time, scikit-image's float64 "
        "Lab at full resolution: `naive_loop` in the bench, kept as it is) and against a loop of "
        "`pipeline.run` with engine torch (the product's photo path, one photo at a time); the 480p film with "
        f"each engine. ONNX Runtime {onnxruntime.__version__}; both engines give the same ab within "
        f"{engines.TOLERANCE_AB:g} Lab units (`tests/colorization/test_engines.py`, on real photos), so `auto` "
        "picks ONNX Runtime on a CPU and PyTorch on a GPU. Read the figures with the load average below: on a "
        "busy machine they are low and uneven."
    )


def notes(figures: dict[str, dict[str, float]], load: float) -> list[str]:
    """The notes under the tables, read from this run's figures."""
    seconds, rates, fps = figures["seconds"], figures["rates"], figures["fps"]
    out = []
    if seconds and rates and fps:
        photo_gain = rates["colorize image --engine onnx"] / rates["colorize image --engine torch"]
        out.append(
            f"- ONNX Runtime is {seconds['torch'] / seconds['onnx']:.1f}x PyTorch on the network, "
            f"{fps['onnx'] / fps['torch']:.1f}x on the film and {photo_gain:.1f}x on whole photos, where reading, "
            "the full-resolution merge and writing the JPEG with its metadata share the time with the network."
        )
    if rates:
        best = max(rates[f"colorize image --engine {e}"] for e in ENGINES) / rates[NAIVE]
        verdict = "met" if best >= TARGET else "not met"
        out.append(
            f"- Photos: `colorize image` at its fastest is {best:.2f}x the naive loop: the issue's "
            f"{TARGET:g}x target is {verdict} in this run. The `pipeline.run` loop shares the product's photo "
            "path, so against it only the engine and what `colorize image` adds over one file at a time show."
        )
    if load > 1.0:
        out.append(
            f"- The load average was {load:g} at the start (other work on the machine): rerun on an idle "
            "machine before quoting these figures."
        )
    out.append(
        "- int8 is measured apart (`bench/bench_int8.py`, which prints and writes nothing); it is not an engine."
    )
    return [*out, ""] if out else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24, help="grey scans (default 24)")
    parser.add_argument("--megapixels", type=float, default=1.0, help="size of each scan (default 1)")
    parser.add_argument("--frames", type=int, default=16, help="frames of the 480p film (default 16)")
    parser.add_argument("--threads", type=int, default=2, help="threads per engine (default 2)")
    parser.add_argument("--parts", default="network,photos,film", help="what to measure (default all)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    parts = args.parts.split(",")
    started = time.perf_counter()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = load_average()
    lines: list[str] = []
    seconds: dict[str, float] = {}
    rates: dict[str, float] = {}
    fps: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "network" in parts:
            seconds = network(args.threads)
            lines += [
                "Network (one forward pass at 224 x 288, a 4:3 photo's network shape; best of 3 rounds of 4):",
                "",
                "| torch | onnx | onnx speed-up |",
                "| --- | --- | --- |",
                f"| {seconds['torch'] * 1e3:.0f} ms | {seconds['onnx'] * 1e3:.0f} ms | "
                f"{seconds['torch'] / seconds['onnx']:.2f}x |",
                "",
            ]
            print(lines[-3], flush=True)
        if "photos" in parts:
            rates = photos(make_scans(args.images, args.megapixels, tmp / "scans"), tmp)
            base, run_loop = rates[NAIVE], rates[RUN_LOOP]
            lines += [
                f"Photos: {args.images} grey {args.megapixels:g}-megapixel scans (4:3 crops of the archive photos)"
                ", after a warm-up photo:",
                "",
                "| run | photos/s | vs the naive loop | vs the `pipeline.run` loop |",
                "| --- | --- | --- | --- |",
                *(
                    f"| {name} | {rate:.2f} | {rate / base:.2f}x | {rate / run_loop:.2f}x |"
                    for name, rate in rates.items()
                ),
                "",
            ]
            print("\n".join(lines[-4 - len(rates) :]), flush=True)
        if "film" in parts:
            fps = film(args.frames, tmp)
            lines += [
                f"Film: the first {args.frames} frames of facenet-pytorch_video.mp4 at 480p through the `film` "
                "preset (flow smoothing, threaded pipeline), after a 2-frame warm-up run:",
                "",
                "| torch fps | onnx fps | onnx speed-up |",
                "| --- | --- | --- |",
                f"| {fps['torch']:.2f} | {fps['onnx']:.2f} | {fps['onnx'] / fps['torch']:.2f}x |",
                "",
            ]
            print(lines[-2], flush=True)
    header = (
        f"{stamp} on {machine()}, {args.threads} threads per engine; load average at the start: {load}; "
        f"total run time {time.perf_counter() - started:.0f} s."
    )
    figures = {"seconds": seconds, "rates": rates, "fps": fps}
    section = [SECTION, "", intro(), "", header, "", *lines, *notes(figures, float(load))]
    publish(SECTION, section, write=not args.no_write)


if __name__ == "__main__":
    main()
