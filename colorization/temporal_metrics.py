"""Temporal consistency of a colorized sequence: warp error and flicker, plus per-frame colourfulness.

- warp error (Lai et al. 2018 style): mean ab distance between a frame and its predecessor warped onto it
  by optical flow computed on the (grayscale) lightness, over pixels the forward-backward check trusts;
- flicker: mean ab change between consecutive frames on static pixels (lightness unchanged, no motion),
  where any colour change is flicker by definition.

- CDC (colour distribution consistency, Liu et al. 2021, as the NTIRE 2023 video colorization challenge
  reports it): the Jensen-Shannon divergence between the R, G and B histograms of frames 1, 2 and 4 apart,
  averaged; 0 when every frame has the same colour distribution.

Warp error and flicker are in Lab units (ab distance) and measured at whatever resolution they are given (the network's).
Colourfulness is Hasler & Suesstrunk's (from `colorization.metrics` when present), so smoothing that
lowers warp error by washing colours out shows up.
"""

from __future__ import annotations

import numpy as np

from colorization.color import lab_to_rgb
from colorization.flow import Flow, consistency, lightness_of, warp

CONFIDENT = 0.5  # pixels whose forward-backward confidence is above this count as non-occluded


def warp_error(
    prev_ab: np.ndarray, ab: np.ndarray, prev_gray: np.ndarray, gray: np.ndarray, flow: Flow | None = None
) -> float:
    """Mean |ab_t - warp(ab_{t-1})| over non-occluded pixels (Lab units)."""
    flow = flow or Flow()
    fwd, bwd = flow(gray, prev_gray), flow(prev_gray, gray)
    mask = consistency(fwd, bwd) > CONFIDENT
    if not mask.any():
        return float("nan")
    diff = np.linalg.norm(ab - warp(prev_ab, fwd), axis=-1)
    return float(diff[mask].mean())


def flicker(
    prev_ab: np.ndarray, ab: np.ndarray, prev_gray: np.ndarray, gray: np.ndarray, tol: int = 2
) -> float:
    """Mean |ab_t - ab_{t-1}| on static pixels (gray level within `tol`, a 3x3 neighbourhood too)."""
    import cv2

    change = cv2.dilate(cv2.absdiff(gray, prev_gray), np.ones((3, 3), np.uint8))
    static = change <= tol
    if not static.any():
        return float("nan")
    return float(np.linalg.norm(ab - prev_ab, axis=-1)[static].mean())


def colourfulness_lab(gray: np.ndarray, ab: np.ndarray) -> float:
    """Hasler & Suesstrunk colourfulness of the image made of this lightness and ab."""
    rgb = lab_to_rgb(np.concatenate([lightness_of(gray)[..., None], ab], axis=-1))
    try:
        from colorization.metrics import colourfulness

        return float(colourfulness(rgb))
    except (ImportError, AttributeError):
        return hasler_colourfulness(rgb)


def hasler_colourfulness(rgb: np.ndarray) -> float:
    """sRGB in [0, 1] -> colourfulness on the 0..255 scale (grey 0, about 40 moderately colourful)."""
    rgb = np.asarray(rgb, np.float64) * 255.0
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def _js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (natural log) of two histograms, each normalised here."""
    p, q = p / max(p.sum(), 1e-12), q / max(q.sum(), 1e-12)
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log(a[nz] / m[nz])))

    return 0.5 * kl(p) + 0.5 * kl(q)


def cdc(frames_rgb: list[np.ndarray], dilations: tuple[int, ...] = (1, 2, 4), bins: int = 256) -> float:
    """Colour distribution consistency of a sequence of uint8 RGB frames (lower is steadier): for each
    dilation d, the mean over frame pairs (t, t + d) of the JS divergence of their R, G and B histograms
    (averaged over the three channels); then the mean over the dilations that fit in the sequence."""
    hists = [
        [np.bincount(np.asarray(f)[..., c].ravel(), minlength=bins).astype(np.float64) for c in range(3)]
        for f in frames_rgb
    ]
    per_dilation = []
    for d in dilations:
        pairs = [
            np.mean([_js_divergence(a[c], b[c]) for c in range(3)])
            for a, b in zip(hists, hists[d:], strict=False)
        ]
        if pairs:
            per_dilation.append(float(np.mean(pairs)))
    return float(np.mean(per_dilation)) if per_dilation else float("nan")


class TemporalMeter:
    """Accumulates the temporal metrics over a stream of (gray, ab) frames; scene cuts are skipped."""

    def __init__(self):
        self.flow = Flow()
        self.prev: tuple[np.ndarray, np.ndarray] | None = None
        self.values: dict[str, list[float]] = {"warp_error": [], "flicker": [], "colourfulness": []}

    def update(self, gray: np.ndarray, ab: np.ndarray, cut: bool = False) -> None:
        ab = np.asarray(ab, np.float32)
        self.values["colourfulness"].append(colourfulness_lab(gray, ab))
        if self.prev is not None and not cut and self.prev[0].shape == gray.shape:
            self.values["warp_error"].append(warp_error(self.prev[1], ab, self.prev[0], gray, self.flow))
            self.values["flicker"].append(flicker(self.prev[1], ab, self.prev[0], gray))
        self.prev = (gray, ab)

    def summary(self) -> dict[str, float]:
        return {k: float(np.nanmean(v)) if v else float("nan") for k, v in self.values.items()}
