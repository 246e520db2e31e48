"""media.holds_colour: colour originals (also muted: Autochrome, hand-tinting) against grey and toned prints
(sepia, cyanotype, selenium), which the portal and `colorize` treat as black and white."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from colorization.media import read_image
from colorization.media.images import holds_colour

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
PICTURES = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}


def _scene(height: int = 120, width: int = 160) -> np.ndarray:
    """A grey picture with texture and soft shapes (8 bits)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    g = 120 + 60 * np.sin(x / 9.0) * np.cos(y / 11.0) + 50 * (y / height) - 25 * (x / width)
    return np.clip(g, 0, 255).astype(np.uint8)


def _jpeg(image: Image.Image) -> np.ndarray:
    """What a scanner's JPEG keeps (chroma subsampled and quantised)."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=75)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


@pytest.mark.parametrize(
    "black, mid, white",
    [("#2a1408", "#a07850", "#fff4e0"), ("#06184a", "#4f7fb5", "#eef6ff"), ("#24141c", "#8a7a80", "#f6f2f0")],
    ids=["sepia", "cyanotype", "selenium"],
)
def test_a_toned_print_is_not_colour(black, mid, white):
    toned = ImageOps.colorize(Image.fromarray(_scene()), black, white, mid=mid)
    assert not holds_colour(_jpeg(toned))


def test_two_muted_hues_in_different_regions_are_colour():
    """Foliage a little green, a dress a little blue, as on an Autochrome: each barely away from grey."""
    grey = _scene().astype(np.float64)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    rgb[:, :80] *= (0.96, 1.02, 0.95)
    rgb[:, 80:] *= (0.97, 0.99, 1.04)
    assert not holds_colour(np.repeat(grey[..., None], 3, axis=-1).astype(np.uint8))
    assert holds_colour(_jpeg(Image.fromarray(rgb.clip(0, 255).astype(np.uint8))))


def _pictures(folder: str) -> list[Path]:
    return sorted(p for p in (SHARED_DATA / folder).glob("*") if p.suffix.lower() in PICTURES)


@pytest.mark.skipif(
    not (SHARED_DATA / "historical_bw").is_dir(), reason="needs ../shared/data (historical sets)"
)
def test_historical_colour_processes_are_colour_and_black_and_white_prints_are_not():
    """Every picture of historical_color (Prokudin-Gorsky, Autochromes) is colour; none of historical_bw (many
    of them toned or stained prints) is."""
    missed = [p.name for p in _pictures("historical_color") if not holds_colour(read_image(p).image)]
    flagged = [p.name for p in _pictures("historical_bw") if holds_colour(read_image(p).image)]
    assert _pictures("historical_color") and _pictures("historical_bw")
    assert missed == [] and flagged == []
