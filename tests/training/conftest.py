"""Fixtures for the training tests: a small colour film (PyAV) and a folder of colour images, made here,
and a dataset built from them without the person filter (the generated pictures hold no persons)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.training_data import SPLITS, colour_image


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
