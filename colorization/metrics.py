"""Per-image quality metrics, pure NumPy (SSIM via scikit-image), shared by training and video code.

Conventions: RGB images are uint8 (H, W, 3) or float in [0, 1] (converted to 8-bit values first, as the
thesis's Table 3 reports MAE / PSNR / SSIM on 8-bit RGB); Lab arrays are float (H, W, 3) or ab (H, W, 2)
in Lab units (a, b roughly -128..127).
"""

from __future__ import annotations

import math

import numpy as np

PSNR_CAP = 100.0  # identical images: PSNR is infinite; reported as this cap so tables and JSON stay finite


def _u8(img: np.ndarray) -> np.ndarray:
    """8-bit RGB as float64 values in 0..255 (float input in [0, 1] is scaled and rounded)."""
    img = np.asarray(img)
    if img.dtype == np.uint8:
        return img.astype(np.float64)
    if img.dtype == np.uint16:
        return np.round(img.astype(np.float64) / 257.0)
    if np.issubdtype(img.dtype, np.integer):
        raise TypeError(f"metrics take uint8, uint16 or float RGB in [0, 1], not {img.dtype}")
    return np.round(np.clip(img.astype(np.float64), 0.0, 1.0) * 255.0)


def _check(pred: np.ndarray, true: np.ndarray) -> None:
    if pred.shape != true.shape:
        raise ValueError(f"shape mismatch: prediction {pred.shape} vs truth {true.shape}")


def mae(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> float:
    """Mean absolute error on 8-bit RGB values (0..255)."""
    p, t = _u8(pred_rgb), _u8(true_rgb)
    _check(p, t)
    return float(np.mean(np.abs(p - t)))


def psnr(pred_rgb: np.ndarray, true_rgb: np.ndarray, cap: float = PSNR_CAP) -> float:
    """Peak signal-to-noise ratio in dB on 8-bit RGB (peak 255); identical images give `cap`."""
    p, t = _u8(pred_rgb), _u8(true_rgb)
    _check(p, t)
    mse = float(np.mean((p - t) ** 2))
    if mse == 0.0:
        return cap
    return min(cap, 10.0 * math.log10(255.0**2 / mse))


def ssim(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> float:
    """Structural similarity on 8-bit RGB (scikit-image, per channel, Gaussian window as Wang et al.)."""
    from skimage.metrics import structural_similarity

    p, t = _u8(pred_rgb), _u8(true_rgb)
    _check(p, t)
    return float(
        structural_similarity(
            p,
            t,
            channel_axis=-1,
            data_range=255.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness M on 8-bit RGB: 0 for a gray image, ~100+ for vivid ones."""
    x = _u8(rgb)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    std = math.hypot(float(np.std(rg)), float(np.std(yb)))
    mean = math.hypot(float(np.mean(rg)), float(np.mean(yb)))
    return std + 0.3 * mean


colorfulness = colourfulness  # US spelling, same function


def accuracy_within_eps(pred_ab: np.ndarray, true_ab: np.ndarray, eps: float = 0.02) -> float:
    """Share of pixels whose |a| and |b| errors are both within `eps` of the ab range.

    "Deep Colorization" (docs/method.md) uses epsilon = 2% on ab normalized to [-1, 1]; the same on
    Lab units means |error| <= eps * 128 (2.56 units for 2%).
    """
    p, t = np.asarray(pred_ab, dtype=np.float64)[..., -2:], np.asarray(true_ab, dtype=np.float64)[..., -2:]
    _check(p, t)
    ok = np.all(np.abs(p - t) <= eps * 128.0, axis=-1)
    return float(np.mean(ok))


def ab_pearson_channels(
    pred_lab: np.ndarray, true_lab: np.ndarray, l_range: tuple[float, float] = (25.0, 75.0), flat: float = 0.5
) -> tuple[float, float]:
    """The within-image Pearson correlation of predicted vs true a, and of b (see `ab_pearson`)."""
    p, t = np.asarray(pred_lab, dtype=np.float64), np.asarray(true_lab, dtype=np.float64)
    _check(p, t)
    mask = (t[..., 0] >= l_range[0]) & (t[..., 0] <= l_range[1])
    if not mask.any():
        return 0.0, 0.0
    scores = []
    for channel in (1, 2):
        x, y = p[..., channel][mask], t[..., channel][mask]
        if x.std() < flat or y.std() < flat:
            scores.append(0.0)
            continue
        x, y = x - x.mean(), y - y.mean()
        scores.append(float(np.dot(x, y) / math.sqrt(float(np.dot(x, x)) * float(np.dot(y, y)))))
    return scores[0], scores[1]


def ab_pearson(
    pred_lab: np.ndarray, true_lab: np.ndarray, l_range: tuple[float, float] = (25.0, 75.0), flat: float = 0.5
) -> float:
    """Does the colour vary in the right places? The Pearson correlation of predicted vs true a over the pixels
    whose (true) L lies in `l_range`, and the same for b, averaged.

    Each channel is correlated on its own, so a constant prediction (gray, or any tint) scores exactly 0 in
    both; pooling a and b into one vector would reward a tint whose a and b merely differ the way the photo's
    means do. Very dark and very bright pixels carry almost no colour and are left out. A channel that is
    constant on either side (standard deviation under `flat` Lab units: invisible, below an 8-bit step, such as
    the rounding noise of a gray or tinted 8-bit image) counts as 0.
    """
    return float(np.mean(ab_pearson_channels(pred_lab, true_lab, l_range, flat)))


# green/blue recall: what the truth clearly paints green or blue (foliage, grass, sky, water) ...
GREEN_BLUE_HUES = (100.0, 300.0)  # degrees of atan2(b, a)
GREEN_BLUE_TRUE_CHROMA = 10.0  # Lab units
# ... and what counts as the output painting it so
GREEN_BLUE_OUT_CHROMA = 5.0
GREEN_BLUE_HUE_TOLERANCE = 45.0


def green_blue_recall(pred_lab: np.ndarray, true_lab: np.ndarray) -> float | None:
    """Of the pixels the truth makes clearly green or blue (chroma above 10, hue 100-300 degrees), the share the
    prediction also makes green or blue: chroma above 5 and hue within 45 degrees of the truth's. None when the
    truth has no such pixel. Gray and sepia score 0; it is what a visitor misses when trees come out brown."""
    p, t = np.asarray(pred_lab, dtype=np.float64), np.asarray(true_lab, dtype=np.float64)
    _check(p, t)
    true_chroma = np.hypot(t[..., 1], t[..., 2])
    true_hue = np.degrees(np.arctan2(t[..., 2], t[..., 1])) % 360.0
    wanted = (
        (true_chroma > GREEN_BLUE_TRUE_CHROMA)
        & (true_hue >= GREEN_BLUE_HUES[0])
        & (true_hue <= GREEN_BLUE_HUES[1])
    )
    if not wanted.any():
        return None
    pred_chroma = np.hypot(p[..., 1], p[..., 2])[wanted]
    pred_hue = np.degrees(np.arctan2(p[..., 2], p[..., 1]))[wanted] % 360.0
    gap = np.abs((pred_hue - true_hue[wanted] + 180.0) % 360.0 - 180.0)
    return float(np.mean((pred_chroma > GREEN_BLUE_OUT_CHROMA) & (gap <= GREEN_BLUE_HUE_TOLERANCE)))


# hint leak: a pixel a hint made clearly worse (its ab error grew by more than this many Lab units) ...
HINT_LEAK_GROWTH = 10.0
# ... among the mid-lightness pixels, where colour is visible and a leak shows
HINT_LEAK_LIGHTNESS = (25.0, 75.0)


def hint_leak(hinted_lab: np.ndarray, plain_lab: np.ndarray, true_lab: np.ndarray) -> float:
    """Did the hints colour what they were not asked to? The share of the mid-lightness pixels (true L 25..75)
    whose ab error against the truth grows by more than 10 Lab units when the hints are given (`hinted_lab`)
    against the same model without them (`plain_lab`). A hint coloured from the truth only lowers the error
    where it belongs, so what grows is colour that spread past the hinted thing. 0 when no pixel is mid-lightness."""
    h, p, t = (np.asarray(x, dtype=np.float64) for x in (hinted_lab, plain_lab, true_lab))
    _check(h, t)
    _check(p, t)
    mask = (t[..., 0] >= HINT_LEAK_LIGHTNESS[0]) & (t[..., 0] <= HINT_LEAK_LIGHTNESS[1])
    if not mask.any():
        return 0.0
    grown = np.linalg.norm(h[..., 1:] - t[..., 1:], axis=-1) - np.linalg.norm(
        p[..., 1:] - t[..., 1:], axis=-1
    )
    return float(np.mean(grown[mask] > HINT_LEAK_GROWTH))


__all__ = [
    "PSNR_CAP",
    "ab_pearson",
    "accuracy_within_eps",
    "colorfulness",
    "colourfulness",
    "green_blue_recall",
    "hint_leak",
    "mae",
    "psnr",
    "ssim",
]
