"""Lab conversion: round trips, agreement with scikit-image, the torch version's gradients."""

import numpy as np
import pytest
import torch
from skimage import color as skcolor

from colorization import color


@pytest.fixture(scope="module")
def rgb():
    rng = np.random.default_rng(0)
    pixels = rng.random((32, 32, 3), dtype=np.float32)
    pixels[0, :8] = [
        [0, 0, 0],
        [1, 1, 1],
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [0.5, 0.5, 0.5],
        [0.01, 0.02, 0.0],
        [1, 1, 0],
    ]
    return pixels


def test_numpy_round_trip(rgb):
    back = color.lab_to_rgb(color.rgb_to_lab(rgb))
    assert np.abs(back - rgb).max() < 1e-4


def test_numpy_agrees_with_skimage(rgb):
    ours, ref = color.rgb_to_lab(rgb), skcolor.rgb2lab(rgb.astype(np.float64))
    assert np.abs(ours - ref).max() < 0.02
    lab = ref.astype(np.float32)
    assert np.abs(color.lab_to_rgb(lab) - np.clip(skcolor.lab2rgb(lab.astype(np.float64)), 0, 1)).max() < 1e-3


def test_torch_agrees_with_numpy_and_skimage(rgb):
    t = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    lab_t = color.rgb_to_lab_torch(t)[0].permute(1, 2, 0).numpy()
    assert np.abs(lab_t - skcolor.rgb2lab(rgb.astype(np.float64))).max() < 0.02
    back = color.lab_to_rgb_torch(color.rgb_to_lab_torch(t))
    assert (back - t).abs().max().item() < 1e-4


def test_torch_is_differentiable_with_finite_gradients(rgb):
    t = torch.from_numpy(rgb).permute(2, 0, 1)[None].double().requires_grad_(True)
    lab = color.rgb_to_lab_torch(t)
    lab.sum().backward()
    assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0
    lab_in = (
        color.rgb_to_lab_torch(torch.from_numpy(rgb).permute(2, 0, 1)[None]).detach().requires_grad_(True)
    )
    color.lab_to_rgb_torch(lab_in).mean().backward()
    assert torch.isfinite(lab_in.grad).all()
    assert torch.autograd.gradcheck(
        color.rgb_to_lab_torch, (t[:, :, :4, :4].detach().clamp(0.05, 0.95).requires_grad_(),)
    )


def test_lightness_helpers_match_the_full_conversion(rgb):
    assert np.abs(color.rgb_to_lightness(rgb) - color.rgb_to_lab(rgb)[..., 0]).max() < 1e-3
    gray = rgb[..., :1].repeat(3, axis=2)
    assert np.abs(color.gray_to_lightness(rgb[..., 0]) - color.rgb_to_lab(gray)[..., 0]).max() < 1e-3


def test_linear_helpers_compose_to_lab_to_rgb(rgb):
    lab = color.rgb_to_lab(rgb)
    assert np.abs(color.linear_to_srgb(color.lab_to_linear_rgb(lab)) - color.lab_to_rgb(lab)).max() < 1e-4
    out_of_gamut = color.lab_to_linear_rgb(np.array([[50.0, 120.0, -120.0]], np.float32))
    assert (out_of_gamut < 0).any() or (out_of_gamut > 1).any()  # not clipped: callers can map the gamut


def test_normalization_ranges():
    assert color.normalize_l(np.float32(100.0)) == 1.0
    assert color.normalize_ab(np.float32(-128.0)) == -1.0
    assert color.denormalize_ab(color.normalize_ab(np.float32(37.5))) == 37.5


def test_ab_bin_centers_are_in_gamut_cells():
    centers = color.ab_bin_centers()
    assert 250 < len(centers) < 400  # Zhang et al. keep 313 cells at grid 10
    assert np.abs(centers).max() <= 110
