"""Dense optical flow for temporal smoothing and temporal metrics: OpenCV's DIS on lightness.

Everything works at the network's resolution (the size of `frame.ab`), where flow is cheap. Conventions:
`flow(a, b)` returns f with a(x) ~ b(x + f(x)), so `warp(b_data, f)` brings data of frame b onto frame a.
"""

from __future__ import annotations

import cv2
import numpy as np

from colorization.color import gray_to_lightness


def gray_at(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Full-resolution RGB (uint8/uint16/float) -> uint8 luma at (height, width) for flow and cut detection."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    h, w = size
    if gray.shape != (h, w):
        gray = cv2.resize(gray, (w, h), interpolation=cv2.INTER_AREA)
    return gray


def lightness_of(gray: np.ndarray) -> np.ndarray:
    """uint8 gray -> CIE L in [0, 100] (float32)."""
    return gray_to_lightness(gray.astype(np.float32) / 255.0)


class Flow:
    """DIS optical flow (one instance per stream: OpenCV's object is not thread-safe).

    `static_tol`: where no gray level in a pixel's 3x3 neighbourhood changed by more than this, the flow is
    set to zero. In flat regions (sky, walls, water) DIS has nothing to match and returns small arbitrary
    vectors; following them would drag colours around where nothing moved (flicker on still pixels).
    None keeps DIS's answer everywhere (what the metrics use, to stay neutral).
    """

    def __init__(self, preset: int = cv2.DISOpticalFlow_PRESET_FAST, static_tol: int | None = None):
        self.dis = cv2.DISOpticalFlow_create(preset)
        self.static_tol = static_tol

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
        flow = self.dis.calc(a, b, None)
        if self.static_tol is not None:
            flow[cv2.dilate(cv2.absdiff(a, b), np.ones((3, 3), np.uint8)) <= self.static_tol] = 0.0
        return flow


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs, ys


def warp(data: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample `data` (h x w or h x w x c) at x + flow(x), bilinear, edges replicated."""
    h, w = flow.shape[:2]
    xs, ys = _grid(h, w)
    return cv2.remap(
        data, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def consistency(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Per-pixel confidence in [0, 1] from a forward-backward check (Sundaram et al. 2010).

    `forward` maps frame a to b, `backward` b to a. Where following one and then the other does not come
    back to the start (occlusion, disocclusion, failed matches) or leaves the frame, confidence drops to 0.
    """
    h, w = forward.shape[:2]
    back = warp(backward, forward)
    err = np.sum((forward + back) ** 2, axis=-1)
    tol = 0.01 * (np.sum(forward**2, axis=-1) + np.sum(back**2, axis=-1)) + 0.5
    conf = np.exp(-err / tol).astype(np.float32)
    xs, ys = _grid(h, w)
    tx, ty = xs + forward[..., 0], ys + forward[..., 1]
    conf[(tx < 0) | (tx > w - 1) | (ty < 0) | (ty > h - 1)] = 0.0
    return conf


def photometric(L: np.ndarray, L_warped: np.ndarray, sigma: float = 8.0) -> np.ndarray:
    """Confidence from how well the warped lightness matches (lighting changes, bad matches)."""
    return np.exp(-(((L - L_warped) / sigma) ** 2)).astype(np.float32)
