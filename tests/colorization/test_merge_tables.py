"""The full-resolution merge looks L up in a table per value and 8-bit sRGB up in a table of steps
(colorization.color.lightness_of, linear_to_srgb8) instead of raising every pixel to a power: on real photos
it gives what the per-pixel formulas give, but for values within float rounding of a step."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from colorization import color
from colorization.stages.postprocess import lab_to_srgb_keep_l, merge_luma, upsample_ab_rows

HISTORICAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "historical_color"


def _photos(count: int) -> list[np.ndarray]:
    if not HISTORICAL.is_dir():
        pytest.skip(f"real photos not present at {HISTORICAL} (see ../shared/data/MANIFEST.md)")
    files = sorted(p for p in HISTORICAL.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    return [np.asarray(Image.open(p).convert("RGB")) for p in files[:count]]


def _network_ab(rgb: np.ndarray, boost: float = 1.5) -> np.ndarray:
    """The photo's own colour at a network-like size, stronger, so that some of it leaves the gamut."""
    small = cv2.resize(rgb, (288, 224), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return color.rgb_to_lab(small)[..., 1:] * np.float32(boost)


def _per_pixel_merge(image: np.ndarray, ab: np.ndarray, gray: bool) -> np.ndarray:
    """The merge as the per-pixel formulas give it (what merge_luma computed before the tables)."""
    top = 65535.0 if image.dtype == np.uint16 else 255.0
    height, width = image.shape[:2]
    if gray:
        L = color.gray_to_lightness((image if image.ndim == 2 else image[..., 0]).astype(np.float32) / top)
    else:
        L = color.rgb_to_lightness(image.astype(np.float32) / top)
    ab_full = upsample_ab_rows(ab, height, width, 0, height)
    rgb = lab_to_srgb_keep_l(L.reshape(-1), ab_full.reshape(-1, 2))
    return np.rint(rgb * top).reshape(height, width, 3).astype(image.dtype)


def _psnr(a: np.ndarray, b: np.ndarray, top: float) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(top**2 / mse)


def test_the_tables_give_the_per_pixel_values():
    values = np.arange(256, dtype=np.uint8)
    assert np.array_equal(
        color.lightness_of(values, gray=True), color.gray_to_lightness(values.astype(np.float32) / 255)
    )
    rng = np.random.default_rng(0)
    for dtype, top in ((np.uint8, 255), (np.uint16, 65535)):
        rgb = rng.integers(0, top + 1, (100_000, 3)).astype(dtype)
        expected = color.rgb_to_lightness(rgb.astype(np.float32) / top)
        assert np.abs(color.lightness_of(rgb) - expected).max() < 1e-4
    lin = np.concatenate(
        [rng.random((300_000, 3), dtype=np.float32) ** 3, [[-0.2, 0.0, 1.0], [1.3, 1e-7, 0.5]]]
    )
    got = color.linear_to_srgb8(lin.astype(np.float32))
    expected = np.rint(color.linear_to_srgb(lin) * 255).astype(np.uint8)
    assert np.abs(got.astype(int) - expected).max() <= 1
    assert np.count_nonzero(got != expected) < lin.size * 1e-4  # only values within float rounding of a step


@pytest.mark.parametrize("kind", ["gray8", "rgb8", "gray16"])
def test_merge_on_real_photos_matches_the_per_pixel_formulas(kind):
    for rgb in _photos(3):
        ab = _network_ab(rgb)
        if kind == "rgb8":
            image, gray = rgb, False
        else:
            image = np.asarray(Image.fromarray(rgb).convert("L"))
            image = image.astype(np.uint16) * 257 if kind == "gray16" else image
            gray = True
        top = 65535.0 if image.dtype == np.uint16 else 255.0
        got = merge_luma(image, ab, gray=gray)
        expected = _per_pixel_merge(image, ab, gray)
        assert got.dtype == image.dtype and got.shape == (*image.shape[:2], 3)
        difference = np.abs(got.astype(np.int64) - expected)
        assert difference.max() <= (1 if top == 255 else 8), kind
        assert _psnr(got, expected, top) > 60, kind
