"""postprocess "merge_luma": the predicted ab, upsampled to full size, over the original full-resolution L.

The output keeps the input's size, dtype and lightness: colours that would leave the sRGB gamut have their
chroma reduced (not their lightness), so L survives to within quantization. Work goes in horizontal stripes,
so a 100-megapixel scan needs a few hundred MB on top of its pixels, not gigabytes of float arrays. A huge
picture (colorization.media.bands) is not held at all: its stripes are read, merged and written one at a time.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from colorization.color import lab_to_linear_rgb, lightness_of, linear_to_srgb, linear_to_srgb8
from colorization.frames import Frame
from colorization.registry import register


def _row_weights(n_out: int, n_in: int, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear source rows for output rows start..stop (half-pixel centres, as cv2.resize INTER_LINEAR)."""
    y = (np.arange(start, stop, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    y = np.clip(y, 0, n_in - 1)
    y0 = np.floor(y).astype(np.int64)
    y1 = np.minimum(y0 + 1, n_in - 1)
    return y0, y1, (y - y0).astype(np.float32)[:, None, None]


def upsample_ab_rows(ab: np.ndarray, height: int, width: int, start: int, stop: int) -> np.ndarray:
    """Rows start..stop of `ab` (h, w, 2) bilinearly resized to (height, width): separable, so a stripe
    matches the same rows of a whole-image resize exactly."""
    import cv2

    y0, y1, wy = _row_weights(height, ab.shape[0], start, stop)
    rows = ab[y0] * (1.0 - wy) + ab[y1] * wy  # (stop - start, w, 2): cheap, w is the network size
    return cv2.resize(rows.astype(np.float32), (width, stop - start), interpolation=cv2.INTER_LINEAR)


def lab_to_linear_keep_l(L: np.ndarray, ab: np.ndarray, steps: int = 8) -> np.ndarray:
    """L (n,) and ab (n, 2) -> linear RGB (n, 3) in [0, 1]; out-of-gamut colours lose chroma (bisection),
    not L."""
    L = np.clip(L, 0.0, 100.0)
    lin = lab_to_linear_rgb(np.concatenate([L[:, None], ab], axis=1))
    bad = np.flatnonzero(((lin < 0.0) | (lin > 1.0)).any(axis=1))
    if bad.size:
        Lb, abb = L[bad, None], ab[bad]
        lo = np.zeros((bad.size, 1), np.float32)  # chroma scale known to be in gamut (grey always is)
        hi = np.ones((bad.size, 1), np.float32)
        for _ in range(steps):
            mid = (lo + hi) / 2
            test = lab_to_linear_rgb(np.concatenate([Lb, abb * mid], axis=1))
            ok = ((test >= 0.0) & (test <= 1.0)).all(axis=1, keepdims=True)
            lo = np.where(ok, mid, lo)
            hi = np.where(ok, hi, mid)
        lin[bad] = lab_to_linear_rgb(np.concatenate([Lb, abb * lo], axis=1))
    return lin


def lab_to_srgb_keep_l(L: np.ndarray, ab: np.ndarray, steps: int = 8) -> np.ndarray:
    """L (n,) and ab (n, 2) -> sRGB (n, 3) in [0, 1]; out-of-gamut colours lose chroma (bisection), not L."""
    return linear_to_srgb(lab_to_linear_keep_l(L, ab, steps))


def merge_stripe(
    stripe: np.ndarray, ab: np.ndarray, height: int, width: int, start: int, gray: bool
) -> np.ndarray:
    """Rows start.. of the colour result: `stripe` (n, W, 3), or (n, W) when grey, of the original (height x
    width) uint8/uint16, merged with `ab` (h, w, 2) upsampled to those rows; each row depends on its own only.
    L comes from a table per value and 8-bit sRGB from a table of steps (colorization.color), not per-pixel
    powers: the same result but for values within float rounding of a step
    (tests/colorization/test_merge_tables.py)."""
    rows = stripe.shape[0]
    L = lightness_of(stripe, gray)
    ab_rows = upsample_ab_rows(ab, height, width, start, start + rows)
    lin = lab_to_linear_keep_l(L.reshape(-1), ab_rows.reshape(-1, 2))
    if stripe.dtype == np.uint8:
        return linear_to_srgb8(lin).reshape(rows, width, 3)
    return np.rint(linear_to_srgb(lin) * 65535.0).reshape(rows, width, 3).astype(stripe.dtype)  # 16-bit


def merge_luma(
    image: np.ndarray, ab: np.ndarray, gray: bool | None = None, stripe_pixels: int = 2_000_000
) -> np.ndarray:
    """Original image (H, W, 3) uint8/uint16 + ab (h, w, 2) -> colour image (H, W, 3), same dtype and L."""
    height, width = image.shape[:2]
    out = np.empty((height, width, 3), dtype=image.dtype)
    rows = max(1, stripe_pixels // max(1, width))
    for start in range(0, height, rows):
        stop = min(height, start + rows)
        out[start:stop] = merge_stripe(image[start:stop], ab, height, width, start, bool(gray))
    return out


def merge_luma_bands(picture, ab: np.ndarray):
    """A picture too large to hold (colorization.media.bands.BandedPicture) + ab -> its colour result as
    `Bands`, merged a band at a time while it is written, as merge_luma merges the whole picture."""
    from colorization.media.bands import Bands

    def make():
        for start, band in picture.bands():
            yield merge_stripe(band, ab, picture.height, picture.width, start, picture.gray)

    return Bands(width=picture.width, height=picture.height, dtype=picture.dtype, make=make)


@register("postprocess", "merge_luma")
class MergeLuma:
    """frame.ab (network size) + frame.image (full size) -> frame.image in colour, at full size."""

    def __init__(self, stripe_megapixels: float = 2.0):
        self.stripe_pixels = int(stripe_megapixels * 1e6)

    def __call__(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        for frame in frames:
            if frame.ab is None:
                raise ValueError("merge_luma needs frame.ab: put a colorize stage before it")
            full = frame.info.pop("full", None)  # a huge picture: merged band by band as it is written
            if full is not None:
                frame.image = merge_luma_bands(full, frame.ab)
            else:
                frame.image = merge_luma(
                    frame.image, frame.ab, gray=frame.info.get("gray"), stripe_pixels=self.stripe_pixels
                )
            frame.space = "rgb"
            frame.info["gray"] = False
            yield frame


@register("postprocess", "saturation")
class Saturation:
    """Scale the predicted chroma by `factor` (MSE-trained models are muted; > 1 livens them). Before merge_luma."""

    def __init__(self, factor: float = 1.0):
        self.factor = float(factor)

    def __call__(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        for frame in frames:
            if frame.ab is not None:
                frame.ab = frame.ab * np.float32(self.factor)
            yield frame
