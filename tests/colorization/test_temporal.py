"""Temporal smoothing stages and temporal metrics on synthetic frames with known motion and known colour.

A textured grey scene slides right by 2 px a frame; its true colours slide with it. The 'network' guesses
those colours with noise and a global shift that flips sign every frame (flicker). Smoothing must remove
flicker along the motion without greying the colours, and restart at a scene cut.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from colorization.flow import Flow, consistency, gray_at, warp
from colorization.frames import Frame
from colorization.stages import available, create
from colorization.temporal_metrics import TemporalMeter, flicker, hasler_colourfulness, warp_error

H, W, SPEED = 72, 96, 2


def _scene(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gray = cv2.GaussianBlur((rng.random((H + 40, W + 80)) * 255).astype(np.float32), (0, 0), 2.5)
    gray = cv2.normalize(gray, None, 20, 235, cv2.NORM_MINMAX).astype(np.uint8)
    colour = np.dstack(
        [cv2.GaussianBlur(rng.normal(0, 1, gray.shape).astype(np.float32), (0, 0), 6) for _ in range(2)]
    )
    return gray, (colour / np.abs(colour).max() * 45).astype(np.float32)


def frames(n: int = 16, cut_at: int | None = None, noise: float = 6.0):
    rng = np.random.default_rng(1)
    scenes = [_scene(0), _scene(7)]
    for t in range(n):
        gray, colour = scenes[int(cut_at is not None and t >= cut_at)]
        x = SPEED * t
        g = gray[20 : 20 + H, x : x + W]
        guess = colour[20 : 20 + H, x : x + W] + rng.normal(0, noise, (H, W, 2)) + (8 if t % 2 else -8)
        yield Frame(index=t, image=np.repeat(g[..., None], 3, axis=2), ab=guess.astype(np.float32))


def run(name: str, source, **params) -> list[Frame]:
    stage = create("temporal", name, **params)
    out = []
    for f in stage(source):
        f.info["gray"] = gray_at(f.image, f.ab.shape[:2])
        out.append(f)
    return out


def measure(out: list[Frame]) -> dict[str, float]:
    meter = TemporalMeter()
    for f in out:
        meter.update(f.info["gray"], f.ab, cut=f.index > 0 and f.info.get("scene_cut", False))
    return meter.summary()


@pytest.mark.parametrize("name", available("temporal"))
def test_every_smoothing_keeps_frames_in_order_and_shape(name):
    out = run(name, frames(9))
    assert [f.index for f in out] == list(range(9))
    assert all(f.ab.shape == (H, W, 2) and f.ab.dtype == np.float32 for f in out)
    assert create("temporal", name).describe() == {"smoothing": name}


@pytest.mark.parametrize("name", ["ema", "window", "flow"])
def test_smoothing_cuts_warp_error_without_washing_colour_out(name):
    none, smooth = measure(run("none", frames())), measure(run(name, frames()))
    assert smooth["warp_error"] < 0.7 * none["warp_error"]
    assert smooth["flicker"] <= none["flicker"]
    # the noise and the flip add colourfulness of their own; the true colours must survive
    truth = measure(run("none", frames(noise=0.0)))
    assert smooth["colourfulness"] > 0.85 * truth["colourfulness"]


def test_flow_beats_ema_on_moving_scenes():
    ema, flow = measure(run("ema", frames())), measure(run("flow", frames()))
    assert flow["warp_error"] < ema["warp_error"]


@pytest.mark.parametrize("name", ["ema", "window", "flow"])
def test_scene_cut_resets_the_smoothing(name):
    out = run(name, frames(12, cut_at=6))
    assert [f.index for f in out if f.info["scene_cut"]] == [0, 6]
    raw = [f.ab.copy() for f in frames(12, cut_at=6)]
    after_cut = out[6].ab
    if name == "window":  # averaged only with frames of the new shot
        assert np.abs(after_cut - raw[6]).mean() < np.abs(after_cut - raw[5]).mean()
    else:  # recursive filters start again from the new shot's own prediction
        assert np.allclose(after_cut, raw[6])


def test_temporal_stage_needs_a_prediction():
    with pytest.raises(ValueError, match="colorize stage"):
        next(create("temporal", "flow")(iter([Frame(index=0, image=np.zeros((8, 8, 3), np.uint8))])))


def test_warp_error_and_flicker_are_zero_for_colours_that_move_with_the_scene():
    gray, colour = _scene(3)
    g0, g1 = gray[20 : 20 + H, 10 : 10 + W], gray[20 : 20 + H, 12 : 12 + W]
    ab0, ab1 = colour[20 : 20 + H, 10 : 10 + W], colour[20 : 20 + H, 12 : 12 + W]
    assert warp_error(ab0, ab1, g0, g1) < 1.0
    assert warp_error(ab0, ab1 + 10, g0, g1) == pytest.approx(10 * np.sqrt(2), rel=0.05)
    assert flicker(ab0, ab0, g0, g0) == 0.0
    assert flicker(ab0, ab0 + 3, g0, g0) == pytest.approx(3 * np.sqrt(2), rel=1e-4)


def test_consistency_marks_occlusions_and_pixels_leaving_the_frame():
    gray, _ = _scene(4)
    a, b = gray[20 : 20 + H, 10 : 10 + W].copy(), gray[20 : 20 + H, 16 : 16 + W].copy()
    flow = Flow()
    fwd, bwd = flow(b, a), flow(a, b)
    conf = consistency(fwd, bwd)
    assert conf[:, W // 3 : 2 * W // 3].mean() > 0.8  # the middle is seen in both frames
    assert np.abs(warp(a, fwd)[:, 20:-20].astype(float) - b[:, 20:-20]).mean() < 4


def test_colourfulness_of_grey_is_zero():
    assert hasler_colourfulness(np.full((8, 8, 3), 0.5)) == 0.0
    assert hasler_colourfulness(np.dstack([np.ones((8, 8)), np.zeros((8, 8)), np.zeros((8, 8))])) > 50


@pytest.mark.parametrize("name", ["flow", "window"])
def test_still_flat_background_keeps_its_colour(name):
    """A textured patch moves over a flat, unchanging wall: the wall's steady colour must stay steady
    (DIS returns arbitrary small vectors on flat areas; following them would make the wall flicker)."""
    rng = np.random.default_rng(2)
    patch = (rng.random((16, 16)) * 255).astype(np.uint8)

    def source():
        for t in range(10):
            g = np.full((H, W), 120, np.uint8)
            g[20:36, 10 + 4 * t : 26 + 4 * t] = patch
            ab = np.zeros((H, W, 2), np.float32)
            ab[..., 0] = np.linspace(-30, 30, W)[None, :]  # a steady gradient on the wall
            ab[20:36, 10 + 4 * t : 26 + 4 * t] = (40.0, -20.0) if t % 2 else (30.0, -10.0)
            yield Frame(index=t, image=np.repeat(g[..., None], 3, axis=2), ab=ab)

    out = run(name, source())
    wall = np.zeros((H, W), bool)
    wall[50:, :] = True  # far from the patch's path
    for a, b in zip(out[3:], out[4:], strict=False):
        assert np.abs(a.ab[wall] - b.ab[wall]).max() < 0.5
