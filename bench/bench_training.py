"""Training throughput: dataset build (sampled frames/s), training steps (images/s) for the default
config's model and loss, and validation inference (images/s at 224). Writes the section
"## Training (bench/bench_training.py)" of BENCHMARKS.md.

    python bench/bench_training.py [--steps 8] [--no-write]

Uses the shared data where present (a real film + 100 real photos for the build) and generated data
otherwise. It competes with anything else running on the machine: the figures say how loaded it was.
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
from benchlib import load_average, machine, publish  # noqa: E402

SECTION = "## Training (bench/bench_training.py)"
SHARED = REPO / ".." / "shared" / "data"


def bench_build(tmp: Path) -> dict:
    from training.build_dataset import build

    film = SHARED / "video" / "sam2_bedroom.mp4"
    photos = SHARED / "train_color"
    if film.is_file() and photos.is_dir():
        folder = tmp / "photos"
        folder.mkdir()
        for p in sorted(q for q in photos.rglob("*") if q.suffix.lower() in (".jpg", ".jpeg", ".png"))[:100]:
            os.symlink(p.resolve(), folder / p.name)
        sources, what = [film, folder], f"{film.name} (960x540, 200 frames) + 100 photos from train_color"
        person = (SHARED / "weights" / "yolov5n.onnx").is_file()
    else:
        from tests.training.conftest import colour_image, make_film

        film = make_film(tmp / "film.mp4", [(1, 48), (2, 48)])
        folder = tmp / "photos"
        folder.mkdir()
        from PIL import Image

        for i in range(100):
            Image.fromarray(colour_image(i, 192, 256)).save(folder / f"{i}.png")
        sources, what, person = [film, folder], "generated film + 100 generated images", False
    t = time.perf_counter()
    m = build(sources, tmp / "frames", person_filter=person, every_s=0.5)
    seconds = time.perf_counter() - t
    b = m["builds"][-1]
    return {
        "what": what,
        "seconds": seconds,
        "sampled": b["counts"]["sampled"],
        "kept": m["frames"],
        "person_filter": b["person_filter"],
        "frames_per_s": b["counts"]["sampled"] / seconds,
        "dataset": tmp / "frames",
    }


def bench_train(dataset: Path, steps: int, crop: int) -> dict:
    import torch

    from colorization.models import UNet, UNetConfig
    from training.config import load
    from training.data import FrameDataset
    from training.losses import create_loss

    cfg = load(REPO / "training" / "configs" / "default.toml", [f"dataset={dataset}", f"crop={crop}"])
    ds = FrameDataset(dataset, "train", crop=cfg.crop, flip=True)
    model = UNet(UNetConfig(width=cfg.width, head=cfg.head, bin_grid=cfg.bin_grid))
    criterion = create_loss(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    loader = torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, drop_last=True)
    batches = []
    while len(batches) < steps + 1:
        batches.extend(loader)
    times = []
    for L, ab in batches[: steps + 1]:
        t = time.perf_counter()
        s = cfg.bins_stride
        logits = model.logits(L, stride=s)
        loss = criterion(logits, model.decode(logits), L[..., ::s, ::s], ab[..., ::s, ::s])
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    per_step = float(np.median(times[1:]))  # the first step warms up allocators
    model.eval()
    x = torch.rand(cfg.batch_size, 1, 224, 224)
    with torch.no_grad():
        model(x)
        t = time.perf_counter()
        model(x)
        infer = time.perf_counter() - t
    return {
        "crop": crop,
        "batch": cfg.batch_size,
        "step_s": per_step,
        "images_per_s": cfg.batch_size / per_step,
        "val_images_per_s": cfg.batch_size / infer,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--run-log",
        default=str(REPO / "runs" / "default-bins" / "metrics.csv"),
        help="the default model's metrics.csv, quoted when present",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        b = bench_build(Path(tmp))
        rows = [bench_train(b["dataset"], args.steps, crop) for crop in (128, 224)]
    lines = [
        SECTION,
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; load average {load_before} at the start "
        f"(the machine is shared: other work slows these figures). Total run time {time.perf_counter() - start:.0f} s.",
        "",
        f"Dataset build (`training.build_dataset.build`): {b['what']}, person filter {b['person_filter']}: "
        f"{b['sampled']} sampled frames, {b['kept']} kept, {b['seconds']:.1f} s = **{b['frames_per_s']:.1f} sampled "
        "frames/s** (decode, dark/gray checks, YOLOv5n person count on film frames, phash, Lab, shards).",
        "",
        "Training steps of the default config (thesis U-Net, bins head, rebalanced cross-entropy, Adam, batch 16, "
        f"median of {args.steps} steps, fp32 on CPU):",
        "",
        "| crop | seconds/step | training images/s | validation images/s (224, no grad) |",
        "| --- | --- | --- | --- |",
        *[
            f"| {r['crop']} | {r['step_s']:.2f} | {r['images_per_s']:.2f} | {r['val_images_per_s']:.2f} |"
            for r in rows
        ],
    ]
    log = Path(args.run_log)
    if log.is_file():
        import csv

        hist = list(csv.DictReader(open(log)))
        if hist:
            ips = [float(h["images_per_s"]) for h in hist]
            lines += [
                "",
                f"The default model's own run ({log.relative_to(REPO) if log.is_relative_to(REPO) else log}): "
                f"{len(hist)} epochs, {min(ips):.2f}-{max(ips):.2f} training images/s per epoch (crop 128, "
                "with a data-loader worker, while other work shared the CPU).",
            ]
    publish(SECTION, lines, write=not args.no_write)


if __name__ == "__main__":
    main()
