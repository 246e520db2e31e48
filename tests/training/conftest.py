"""Fixtures for the training tests: a small colour film (PyAV) and a folder of colour images, made here,
and a dataset built from them without the person filter (the generated pictures hold no persons)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SPLITS = (0.5, 0.25, 0.25)  # small data: wider val/test shares so every split gets frames


def colour_image(seed: int, height: int = 60, width: int = 80) -> np.ndarray:
    """A colourful, bright picture with structure (smooth colour field + a disc), different per seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(60, 200, 3)
    slope = rng.uniform(-1.5, 1.5, (3, 2))
    img = np.stack([base[c] + slope[c, 0] * x + slope[c, 1] * y for c in range(3)], -1)
    cx, cy, r = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height, rng.uniform(8, 20)
    img[(x - cx) ** 2 + (y - cy) ** 2 < r**2] = rng.uniform(40, 240, 3)
    return img.clip(0, 255).astype(np.uint8)


def make_film(
    path: Path, scenes: list[tuple[int, int]], fps: int = 8, size: tuple[int, int] = (96, 64)
) -> Path:
    """An H.264 film: each scene is (seed, frames); seed -1 makes a black scene (a fade)."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for seed, n in scenes:
            base = (
                np.zeros((size[1], size[0], 3), np.uint8)
                if seed < 0
                else colour_image(seed, size[1], size[0])
            )
            for _ in range(n):  # a static shot: samples of one scene are near-duplicates
                for packet in stream.encode(av.VideoFrame.from_ndarray(base, format="rgb24")):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    film = make_film(root / "film.mp4", [(100, 16), (-1, 8), (200, 16)])
    images = root / "images"
    images.mkdir()
    for i in range(16):
        Image.fromarray(colour_image(i)).save(images / f"img_{i:02d}.png")
    return {"film": film, "images": images, "root": root}


@pytest.fixture(scope="session")
def dataset(media, tmp_path_factory) -> Path:
    from training.build_dataset import build

    out = tmp_path_factory.mktemp("frames")
    build([media["film"], media["images"]], out, person_filter=False, splits=SPLITS, every_s=0.5)
    return out
