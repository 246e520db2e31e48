"""sRGB <-> CIELAB (D65, 2 degree observer) for NumPy and torch, and the thesis normalization.

One set of constants serves both back ends, so inference (NumPy, any image size) and training (torch,
batched and differentiable) agree to float precision. RGB is float in [0, 1], channels last for NumPy
(H x W x 3) and channels first for torch (N x 3 x H x W). L is in [0, 100], a and b roughly in [-128, 127].

Normalization follows the thesis (docs/method.md): the network sees L / 100 in [0, 1] and ab / 128 in [-1, 1].
"""

from __future__ import annotations

import functools

import numpy as np

L_SCALE = 100.0
AB_SCALE = 128.0

# Reference white D65 (CIE 1931 2 degree), as used by skimage and OpenCV.
_WHITE = np.array([0.95047, 1.0, 1.08883], dtype=np.float64)
_RGB_TO_XYZ = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ],
    dtype=np.float64,
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_EPS = (6.0 / 29.0) ** 3
_KAPPA = (29.0 / 6.0) ** 2 / 3.0  # slope of the linear part of f(t)


# ---------------------------------------------------------------- NumPy
def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, None)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB float in [0, 1], shape (..., 3) -> Lab float32, shape (..., 3)."""
    rgb = np.asarray(rgb, dtype=np.float32)
    lin = _srgb_to_linear(rgb)
    xyz = lin @ (_RGB_TO_XYZ / _WHITE[:, None]).T.astype(np.float32)
    f = np.where(xyz > _EPS, np.cbrt(xyz), xyz * _KAPPA + 4.0 / 29.0)
    L = 116.0 * f[..., 1] - 16.0
    a = 500.0 * (f[..., 0] - f[..., 1])
    b = 200.0 * (f[..., 1] - f[..., 2])
    return np.stack([L, a, b], axis=-1).astype(np.float32)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """Lab float, shape (..., 3) -> sRGB float32 in [0, 1] (out-of-gamut values clipped)."""
    lab = np.asarray(lab, dtype=np.float32)
    fy = (lab[..., 0] + 16.0) / 116.0
    fx = fy + lab[..., 1] / 500.0
    fz = fy - lab[..., 2] / 200.0
    f = np.stack([fx, fy, fz], axis=-1)
    xyz = np.where(f > 6.0 / 29.0, f**3, (f - 4.0 / 29.0) / _KAPPA)
    lin = xyz @ (_XYZ_TO_RGB * _WHITE[None, :]).T.astype(np.float32)
    return np.clip(_linear_to_srgb(lin), 0.0, 1.0).astype(np.float32)


def lab_to_linear_rgb(lab: np.ndarray) -> np.ndarray:
    """Lab, shape (..., 3) -> linear RGB float32, NOT clipped (values outside [0, 1] are out of gamut).

    Written channel by channel (no (..., 3) @ (3, 3) matmul), which is several times faster on big arrays.
    """
    lab = np.asarray(lab, dtype=np.float32)
    fy = (lab[..., 0] + np.float32(16.0)) / np.float32(116.0)
    f = (fy + lab[..., 1] / np.float32(500.0), fy, fy - lab[..., 2] / np.float32(200.0))
    xyz = [
        np.where(c > np.float32(6.0 / 29.0), c * c * c, (c - np.float32(4.0 / 29.0)) / np.float32(_KAPPA))
        for c in f
    ]
    m = (_XYZ_TO_RGB * _WHITE[None, :]).astype(np.float32)
    out = np.empty(lab.shape, dtype=np.float32)
    for i in range(3):
        out[..., i] = m[i, 0] * xyz[0] + m[i, 1] * xyz[1] + m[i, 2] * xyz[2]
    return out


def linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    """Linear RGB -> sRGB float32 in [0, 1] (clipped)."""
    return np.clip(_linear_to_srgb(np.asarray(lin, dtype=np.float32)), 0.0, 1.0).astype(np.float32)


def rgb_to_lightness(rgb: np.ndarray) -> np.ndarray:
    """L channel alone (cheaper than the full conversion): sRGB (..., 3) in [0, 1] -> L in [0, 100]."""
    lin = _srgb_to_linear(np.asarray(rgb, dtype=np.float32))
    y = lin @ _RGB_TO_XYZ[1].astype(np.float32)
    f = np.where(y > _EPS, np.cbrt(y), y * _KAPPA + 4.0 / 29.0)
    return (116.0 * f - 16.0).astype(np.float32)


def gray_to_lightness(gray: np.ndarray) -> np.ndarray:
    """A grayscale sRGB value in [0, 1] (R = G = B) -> L in [0, 100]."""
    lin = _srgb_to_linear(np.asarray(gray, dtype=np.float32))
    f = np.where(lin > _EPS, np.cbrt(lin), lin * _KAPPA + 4.0 / 29.0)
    return (116.0 * f - 16.0).astype(np.float32)


@functools.cache
def _linear_table(dtype: str) -> np.ndarray:
    """Linear RGB of every uint8 or uint16 sRGB value, float32 (a 256 or 65536-entry table)."""
    top = np.iinfo(dtype).max
    return _srgb_to_linear(np.arange(top + 1, dtype=np.float32) / np.float32(top)).astype(np.float32)


@functools.cache
def _gray_lightness_table(dtype: str) -> np.ndarray:
    """L of every uint8 or uint16 grey value: gray_to_lightness of each, as a table."""
    top = np.iinfo(dtype).max
    return gray_to_lightness(np.arange(top + 1, dtype=np.float32) / np.float32(top))


def lightness_of(image: np.ndarray, gray: bool = False) -> np.ndarray:
    """L in [0, 100] (float32) of an 8 or 16-bit sRGB picture: (..., 3) RGB, or (...) grey when `gray` (a
    grey (..., 3) picture's first channel is used). The values of gray_to_lightness / rgb_to_lightness of
    image / top, looked up per value in a table instead of raising every pixel to a power."""
    dtype = np.dtype(image.dtype).name
    if gray:
        return _gray_lightness_table(dtype)[image[..., 0] if image.ndim == 3 else image]
    lin = _linear_table(dtype)
    w = _RGB_TO_XYZ[1].astype(np.float32)
    y = lin[image[..., 0]] * w[0]
    y += lin[image[..., 1]] * w[1]
    y += lin[image[..., 2]] * w[2]
    f = np.where(y > _EPS, np.cbrt(y), y * np.float32(_KAPPA) + np.float32(4.0 / 29.0))
    return (np.float32(116.0) * f - np.float32(16.0)).astype(np.float32, copy=False)


_SRGB8_GRID = 4096  # cells of linear [0, 1], each holding at most one 8-bit step (the closest are 3e-4 apart)


@functools.cache
def _srgb8_tables() -> tuple[np.ndarray, np.ndarray]:
    """(the 8-bit value at the start of each grid cell, the linear value where each 8-bit value ends)."""
    top = (np.arange(255, dtype=np.float64) + 0.5) / 255.0  # the sRGB values where rounding steps up
    steps = np.where(top <= 0.04045, top / 12.92, ((top + 0.055) / 1.055) ** 2.4)
    cells = np.arange(_SRGB8_GRID + 1, dtype=np.float64) / _SRGB8_GRID
    start = np.searchsorted(steps, cells, side="right").astype(np.uint8)
    return start, np.append(steps, np.inf).astype(np.float32)


def linear_to_srgb8(lin: np.ndarray) -> np.ndarray:
    """Linear RGB -> 8-bit sRGB, rint(linear_to_srgb(lin) * 255) without the power: a table of the linear
    values where each 8-bit value starts (the same but for values within float rounding of a step)."""
    start, steps = _srgb8_tables()
    x = np.clip(lin, 0.0, 1.0, dtype=np.float32)
    out = start[(x * np.float32(_SRGB8_GRID)).astype(np.intp)]
    out += x >= steps[out]
    return out


def normalize_l(L: np.ndarray):
    return L / L_SCALE


def normalize_ab(ab: np.ndarray):
    return ab / AB_SCALE


def denormalize_ab(ab_norm):
    return ab_norm * AB_SCALE


# ---------------------------------------------------------------- torch
def _torch():
    import torch

    return torch


def rgb_to_lab_torch(rgb):
    """Batched, differentiable: (N, 3, H, W) sRGB in [0, 1] -> (N, 3, H, W) Lab."""
    torch = _torch()
    lin = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb.clamp(min=0.0) + 0.055) / 1.055) ** 2.4)
    m = torch.as_tensor(_RGB_TO_XYZ / _WHITE[:, None], dtype=rgb.dtype, device=rgb.device)
    xyz = torch.einsum("ij,njhw->nihw", m, lin)
    f = torch.where(xyz > _EPS, xyz.clamp(min=_EPS) ** (1.0 / 3.0), xyz * _KAPPA + 4.0 / 29.0)
    L = 116.0 * f[:, 1] - 16.0
    a = 500.0 * (f[:, 0] - f[:, 1])
    b = 200.0 * (f[:, 1] - f[:, 2])
    return torch.stack([L, a, b], dim=1)


def lab_to_rgb_torch(lab):
    """Batched, differentiable: (N, 3, H, W) Lab -> (N, 3, H, W) sRGB in [0, 1]."""
    torch = _torch()
    fy = (lab[:, 0] + 16.0) / 116.0
    fx = fy + lab[:, 1] / 500.0
    fz = fy - lab[:, 2] / 200.0
    f = torch.stack([fx, fy, fz], dim=1)
    xyz = torch.where(f > 6.0 / 29.0, f**3, (f - 4.0 / 29.0) / _KAPPA)
    m = torch.as_tensor(_XYZ_TO_RGB * _WHITE[None, :], dtype=lab.dtype, device=lab.device)
    lin = torch.einsum("ij,njhw->nihw", m, xyz).clamp(min=0.0)
    # clamp away from 0 before the power so the gradient stays finite
    srgb = torch.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin.clamp(min=1e-8) ** (1 / 2.4) - 0.055)
    return srgb.clamp(0.0, 1.0)


# ---------------------------------------------------------------- quantized ab (classification head)
def ab_bin_centers(grid: float = 10.0, l_steps: int = 21) -> np.ndarray:
    """Centres of the ab grid cells that hold an in-gamut sRGB colour at some lightness.

    Zhang et al. (ECCV 2016) quantize ab with grid 10 and keep the 313 in-gamut cells; this computes the
    same kind of set from first principles (sampling L), so no data file is needed. Returns (K, 2) float32.
    """
    centers = np.arange(-110.0, 110.0 + 1e-6, grid)
    aa, bb = np.meshgrid(centers, centers, indexing="ij")
    ab = np.stack([aa.ravel(), bb.ravel()], axis=-1)
    keep = np.zeros(len(ab), dtype=bool)
    # a cell is kept when any point of it is in gamut at some L: sample the cell on a 5x5 grid
    offsets = np.linspace(-grid / 2, grid / 2, 5)
    for L in np.linspace(5.0, 95.0, l_steps):
        for da in offsets:
            for db in offsets:
                lab = np.concatenate([np.full((len(ab), 1), L), ab + [da, db]], axis=1)
                fy = (lab[:, 0] + 16.0) / 116.0
                f = np.stack([fy + lab[:, 1] / 500.0, fy, fy - lab[:, 2] / 200.0], axis=-1)
                xyz = np.where(f > 6.0 / 29.0, f**3, (f - 4.0 / 29.0) / _KAPPA)
                lin = xyz @ (_XYZ_TO_RGB * _WHITE[None, :]).T
                keep |= np.all((lin >= -1e-6) & (lin <= 1 + 1e-6), axis=-1)
    return ab[keep].astype(np.float32)
