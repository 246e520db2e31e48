"""Training runs started as an admin starts them, for the tests that cancel them (on a worker, in a browser)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from django.test import Client
from django.urls import reverse

from portal.jobs.models import TrainingRun
from tests.support.media import make_photo
from workers.training_runs import run_dir

# A run that would train for a long time: 500 epochs, no early stopping.
LONG_RUN = "\n".join([
    "batch_size=2", "crop=64", "max_steps_per_epoch=3", "device=cpu", "workers=0", "save_half=false",
    "warmup_steps=1", "threads=1", "patience=1000", "build.splits=[0.5, 0.25, 0.25]", "build.dedupe_distance=0",
])  # fmt: skip


def login(user) -> Client:
    """A test client signed in as `user`."""
    client = Client()
    client.force_login(user)
    return client


def add_training_images(admin: Client, folder: Path) -> None:
    """Twelve colour pictures added as a training source through the admin's training page."""
    from PIL import Image

    rng = np.random.default_rng(3)
    handles = []
    for i in range(12):
        path = make_photo(folder / f"colour_{i:02d}.png", size=(96, 96), gray=False)
        arr = np.roll(np.asarray(Image.open(path)).astype(int), i * 7, axis=1) + rng.integers(
            -30, 30, (96, 96, 3)
        )
        Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(path)
        handles.append(open(path, "rb"))
    try:
        admin.post(reverse("jobs:training"), {"form": "source", "source-files": handles})
    finally:
        for h in handles:
            h.close()


def start_long_run(admin: Client, name: str) -> TrainingRun:
    """A training run (LONG_RUN) started through the training page."""
    form = {
        "form": "train",
        "train-name": name,
        "train-epochs": 500,
        "train-width": 4,
        "train-extra": LONG_RUN,
    }
    assert admin.post(reverse("jobs:training"), form).status_code == 302
    return TrainingRun.objects.get(name=name)


def is_training(run_pk: int) -> bool:
    """True once fit has reported an epoch (the run is inside training, not building the dataset)."""
    run = TrainingRun.objects.get(pk=run_pk)
    return any(p.get("event") == "epoch" for p in run.curve) and run_dir(run_pk).is_dir()


# Fine-tuning the default with a real worker: a tiny run and a tiny default model that takes hints.
TINY = "\n".join([
    "batch_size=2", "crop=64", "max_steps_per_epoch=3", "device=cpu", "workers=0", "threads=1",
    "build.splits=[0.5, 0.25, 0.25]", "build.dedupe_distance=0",
])  # fmt: skip
HINT_DEFAULT = {
    "width": 4,
    "head": "bins",
    "hints": True,
    "coords": True,
    "head_stride": 2,
    "temperature": 0.65,
}


def colour_photos(folder, n: int, seed: int) -> list:
    """Colourful, distinct photographs (each goes whole into one split)."""
    from PIL import Image

    rng, paths = np.random.default_rng(seed), []
    for i in range(n):
        path = make_photo(folder / f"colour_{seed}_{i:02d}.png", size=(96, 96), gray=False)
        arr = np.roll(np.asarray(Image.open(path)).astype(int), i * 7, axis=1) + rng.integers(
            -30, 30, (96, 96, 3)
        )
        arr[:, :, i % 3] += 60 * (i % 4)
        Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths
