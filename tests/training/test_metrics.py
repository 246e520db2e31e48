"""colorization.metrics on inputs whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from colorization import metrics as M
from colorization.color import rgb_to_lab


def _img(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (32, 40, 3), dtype=np.uint8)


def test_psnr_identical_is_capped_and_known_error_matches():
    a = _img()
    assert M.psnr(a, a) == M.PSNR_CAP
    b = a.astype(np.int16)
    b = np.clip(b + np.where(b < 128, 5, -5), 0, 255).astype(np.uint8)  # every value off by exactly 5
    assert M.mae(a, b) == pytest.approx(5.0)
    assert M.psnr(a, b) == pytest.approx(10 * np.log10(255**2 / 25), abs=1e-9)


def test_float_input_is_read_as_8_bit():
    a = _img()
    assert M.mae(a.astype(np.float32) / 255.0, a) == 0.0


def test_ssim_identical_is_one_and_drops_with_noise():
    y, x = np.mgrid[0:32, 0:40]
    a = np.stack([x * 6, y * 7, 255 - x * 6], -1).astype(np.uint8)  # smooth: noise shows
    noisy = np.clip(a.astype(int) + np.random.default_rng(1).integers(-40, 41, a.shape), 0, 255).astype(
        np.uint8
    )
    assert M.ssim(a, a) == pytest.approx(1.0)
    assert M.ssim(noisy, a) < 0.9


def test_colourfulness_gray_is_zero_and_vivid_is_high():
    gray = np.repeat(_img()[..., :1], 3, axis=2)
    assert M.colourfulness(gray) == 0.0
    vivid = np.zeros((10, 20, 3), np.uint8)
    vivid[:, :10] = (255, 0, 0)
    vivid[:, 10:] = (0, 0, 255)
    assert M.colourfulness(vivid) > 100


def test_accuracy_within_eps_counts_pixels_inside_two_percent():
    true = np.zeros((2, 2, 2))
    pred = np.array([[[0, 0], [2.5, -2.5]], [[2.6, 0], [0, 10]]], dtype=float)
    assert M.accuracy_within_eps(pred, true) == pytest.approx(0.5)  # 2.5 <= 2.56 < 2.6


def test_ab_pearson_identical_is_one_gray_is_zero_and_dark_pixels_are_ignored():
    lab = rgb_to_lab(_img(3).astype(np.float32) / 255.0)
    assert M.ab_pearson(lab, lab) == pytest.approx(1.0)
    gray = lab.copy()
    gray[..., 1:] = 0
    assert M.ab_pearson(gray, lab) == 0.0
    assert M.ab_pearson(lab, np.zeros_like(lab)) == 0.0  # no pixel with L in 25..75
    flipped = lab.copy()
    flipped[..., 1:] *= -1
    assert M.ab_pearson(flipped, lab) == pytest.approx(-1.0)


def test_ab_pearson_gives_any_constant_tint_zero():
    lab = rgb_to_lab(_img(3).astype(np.float32) / 255.0)
    for a, b in ((5.0, 15.0), (-20.0, 3.0), *lab[..., 1:].reshape(-1, 2).mean(0, keepdims=True).tolist()):
        tint = lab.copy()
        tint[..., 1], tint[..., 2] = a, b
        assert M.ab_pearson(tint, lab) == 0.0  # a pooled a+b correlation would reward a tint
    half = lab.copy()
    half[..., 2] = 7.0  # right in a, constant in b: half the score
    assert M.ab_pearson(half, lab) == pytest.approx(0.5)


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="shape mismatch"):
        M.psnr(_img(), _img()[:10])


def _lab(a: float, b: float, shape=(8, 8)) -> np.ndarray:
    lab = np.zeros((*shape, 3))
    lab[..., 0], lab[..., 1], lab[..., 2] = 50.0, a, b
    return lab


def test_green_blue_recall_counts_green_and_blue_the_output_keeps():
    truth = _lab(-30.0, 20.0)  # foliage green: hue about 146 degrees
    truth[:4, :, 1:] = (-5.0, -30.0)  # sky blue: hue about 260 degrees
    assert M.green_blue_recall(truth, truth) == 1.0
    assert M.green_blue_recall(_lab(0.0, 0.0), truth) == 0.0  # gray
    assert M.green_blue_recall(_lab(8.0, 15.0), truth) == 0.0  # sepia: the brown trees the metric is for
    half = truth.copy()
    half[:4, :, 1:] = (10.0, 10.0)  # the sky turned beige, the trees kept
    assert M.green_blue_recall(half, truth) == 0.5
    # the right hues at chroma 3.6 and 3.0: below 5, not seen as colour
    faint = truth * np.array([1.0, 0.1, 0.1])
    assert M.green_blue_recall(faint, truth) == 0.0
    assert M.green_blue_recall(truth, _lab(20.0, 10.0)) is None  # no green or blue in the truth


def test_green_blue_recall_accepts_hues_within_45_degrees():
    truth = _lab(-30.0, 20.0)  # 146 degrees
    near = _lab(-20.0, 30.0)  # 124 degrees: 22 away
    far = _lab(10.0, 30.0)  # 72 degrees: 74 away
    assert M.green_blue_recall(near, truth) == 1.0 and M.green_blue_recall(far, truth) == 0.0


def test_ab_pearson_channels_score_a_and_b_each():
    truth = _lab(0.0, 0.0)
    truth[..., 1] = np.linspace(-20, 20, 64).reshape(8, 8)
    truth[..., 2] = np.linspace(10, -10, 64).reshape(8, 8).T
    pred = truth.copy()
    pred[..., 2] = 0.0  # a right, b flat
    a, b = M.ab_pearson_channels(pred, truth)
    assert a == pytest.approx(1.0) and b == 0.0
    assert M.ab_pearson(pred, truth) == pytest.approx(0.5)


def test_hint_leak_counts_the_mid_lightness_pixels_a_hint_made_clearly_worse():
    truth = np.zeros((10, 20, 3))
    truth[..., 0] = 50.0
    truth[:, :10, 1] = 40.0  # a red left half, a gray right half
    plain = truth.copy()
    plain[:, :10, 1] = 10.0  # the model alone: too pale on the left
    hinted = truth.copy()  # a hint fixed the left ...
    hinted[:, 10:15, 1] = 25.0  # ... and spilled red over a quarter of the picture
    assert M.hint_leak(hinted, plain, truth) == pytest.approx(0.25)
    assert M.hint_leak(plain, plain, truth) == 0.0
    hinted[:, 10:15, 1] = 8.0  # a smaller spill, under the 10-unit growth
    assert M.hint_leak(hinted, plain, truth) == 0.0
    truth[..., 0] = 90.0  # nothing mid-lightness: no leak to count
    assert M.hint_leak(hinted, plain, truth) == 0.0
