"""Keyframe propagation ("keyframes" smoothing): a keyframe's colour reaches later frames along the motion, the
network's own colour fills what the keyframe never saw, segments start at keyframes, and staff hints placed on a
keyframe reach the later frames of its shot (stage on synthetic motion, and the real model through the command line).
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import test_video as clips

from colorization import cli, hints
from colorization.color import rgb_to_lab
from colorization.frames import Frame
from colorization.stages import create

film_model = clips.film_model  # the shared tiny-model fixture
one_torch_thread = clips.one_torch_thread  # autouse: see test_video.py

H, W, SPEED = 72, 96, 2


def _texture(seed: int, h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    gray = cv2.GaussianBlur((rng.random((h, w)) * 255).astype(np.float32), (0, 0), 2.0)
    return cv2.normalize(gray, None, 20, 235, cv2.NORM_MINMAX).astype(np.uint8)


def _sliding(n: int, key_colour: np.ndarray, later_colour: float = 0.0, warmup=()):
    """A textured scene sliding left by SPEED px a frame. The 'network' gets the true colour right on frame 0
    only (`key_colour`, which slides with the scene) and answers a flat `later_colour` on every later frame."""
    gray = _texture(0, H, W + SPEED * n)
    for t in range(n):
        x = SPEED * t
        ab = key_colour[:, x : x + W].copy() if t == 0 else np.full((H, W, 2), later_colour, np.float32)
        frame = Frame(index=t, image=np.repeat(gray[:, x : x + W, None], 3, axis=2), ab=ab)
        if t in warmup:
            frame.info["warmup"] = True
        yield frame


def _colour(n: int) -> np.ndarray:
    """Smooth true colours of the whole strip the scene slides over."""
    rng = np.random.default_rng(3)
    colour = np.dstack(
        [
            cv2.GaussianBlur(rng.normal(0, 1, (H, W + SPEED * n)).astype(np.float32), (0, 0), 8)
            for _ in range(2)
        ]
    )
    return (colour / np.abs(colour).max() * 40).astype(np.float32)


def test_keyframe_colour_is_carried_to_shifted_frames():
    colour = _colour(8)
    out = list(create("temporal", "keyframes", interval=12)(_sliding(8, colour)))
    assert [f.index for f in out] == list(range(8))
    assert out[0].info["keyframe"] and not out[4].info.get("keyframe")
    # the shot's last frame (7) is a keyframe too: the carried colour weighs `carry` (0.8) against the network's
    # there, so the frames near it lean a little towards the network's grey
    for t, most in ((2, 0.15), (6, 0.3)):
        truth = colour[:, SPEED * t : SPEED * t + W]
        inner = (slice(8, -8), slice(8, W - 8 - SPEED * t))  # seen in frame 0, away from the borders
        error = np.linalg.norm(out[t].ab[inner] - truth[inner], axis=-1).mean()
        network_error = np.linalg.norm(truth[inner], axis=-1).mean()  # the network answered grey there
        assert error < most * network_error, (t, error, network_error)
    # the strip that entered on the right was never in the keyframe: the network's own colour stays there
    assert np.abs(out[6].ab[8:-8, -SPEED * 6 + 2 :]).mean() < 2.0


def test_a_new_keyframe_every_interval_and_at_shot_ends():
    out = list(create("temporal", "keyframes", interval=4)(_sliding(11, _colour(11))))
    assert [f.index for f in out if f.info.get("keyframe")] == [0, 4, 8, 10]


def test_a_segment_starts_and_ends_at_keyframes_of_the_network_colour():
    """Frames decoded beyond a segment's window (warm-up) end it: the window's first frame after the warm-up
    before it, and the first frame after it, are keyframes that keep the network's own colour, so two segments
    meet on the same keyframe colour."""
    stage = create("temporal", "keyframes", interval=12)
    assert (stage.pre_roll, stage.post_roll) == (0, 1)
    colour = _colour(10)
    frames = list(_sliding(10, colour, later_colour=5.0, warmup={0, 1, 9}))
    out = list(stage(iter(frames)))
    keys = [f.index for f in out if f.info.get("keyframe")]
    assert 2 in keys and 9 in keys
    assert np.allclose(out[2].ab, 5.0) and np.allclose(out[9].ab, 5.0)
    # inside the window, frames take their colour from the window's keyframes only
    assert np.abs(out[5].ab - 5.0).max() < 1e-3


def test_a_hinted_frame_is_a_keyframe_whose_colour_reaches_the_rest_of_the_shot():
    colour = _colour(10)
    blue = np.zeros((H, W + SPEED * 10, 2), np.float32)
    blue[20:50, 30:70] = (10.0, -45.0)  # what the network made of a staff hint on frame 3: a blue patch
    gray = _texture(0, H, W + SPEED * 10)

    def source():
        for t in range(10):
            x = SPEED * t
            ab = colour[:, x : x + W].copy() if t == 0 else np.zeros((H, W, 2), np.float32)
            frame = Frame(index=t, image=np.repeat(gray[:, x : x + W, None], 3, axis=2), ab=ab)
            if t == 3:
                ab[:] = blue[:, x : x + W]
            if t >= 3:  # colorization.hints.carry puts the hint on its frame and follows it afterwards
                frame.info["hints"] = [hints.Hint(0.5, 0.5, "#1040c0", frame=3)]
            yield frame

    out = list(create("temporal", "keyframes", interval=12)(source()))
    assert out[3].info["keyframe"] and np.allclose(out[3].ab, blue[:, 6 : 6 + W])
    t = 8
    patch = (slice(25, 45), slice(35 - SPEED * t, 65 - SPEED * t))  # the blue patch, moved with the scene
    assert out[t].ab[patch][..., 1].mean() < -35


def test_keyframe_hints_sidecar_sets_each_marks_frame():
    given = hints.parse(
        {
            "keyframes": {
                "0": {"points": [{"x": 0.2, "y": 0.3, "color": "#2f5a8a"}]},
                "120": {
                    "points": [{"x": 0.5, "y": 0.5, "color": "#8a2f2f"}],
                    "strokes": [{"points": [[0.1, 0.1], [0.2, 0.2]], "color": "#00ff00"}],
                },
            },
            "strength": 1.2,
        }
    )
    assert [p.frame for p in given.points] == [0, 120] and [s.frame for s in given.strokes] == [120]
    assert given.strength == 1.2
    with pytest.raises(hints.HintError, match="keyframe 'x1': a keyframe is a frame number"):
        hints.parse({"keyframes": {"x1": {"points": []}}})
    with pytest.raises(hints.HintError, match="keyframe '5', point 1: colour"):
        hints.parse({"keyframes": {"5": {"points": [{"x": 0.1, "y": 0.1, "color": "blue"}]}}})
    with pytest.raises(hints.HintError, match="says frame 7; it belongs to keyframe 5"):
        hints.parse({"keyframes": {"5": {"points": [{"x": 0.1, "y": 0.1, "color": "#00f", "frame": 7}]}}})


def _clip(folder, n: int = 8) -> None:
    """A real textured gray scene (a photograph's lightness would do; noise keeps the test self-contained)
    with a bright square panning right 3 px a frame over it, as numbered PNG frames."""
    folder.mkdir()
    scene = _texture(5, 96, 160 + 3 * n)
    for t in range(n):
        frame = scene[:, 3 * n - 3 * t : 3 * n - 3 * t + 160].copy()
        frame[30:62, 40 + 3 * t : 72 + 3 * t] = np.clip(
            frame[30:62, 40 + 3 * t : 72 + 3 * t] // 3 + 150, 0, 255
        )
        cv2.imwrite(str(folder / f"{t:05d}.png"), frame)


def _b_at(path, t: int, rows: slice, cols: slice) -> float:
    import av

    with av.open(str(path)) as container:
        rgb = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)][t]
    return float(rgb_to_lab(rgb[rows, cols].astype(np.float32) / 255.0)[..., 2].mean())


def test_cli_keyframe_hints_reach_later_frames_of_the_shot(tmp_path):
    """The bundled model takes hints: a blue hint on keyframe 0 of the square makes the square blue six frames
    later, where no hint was placed, through `colorize video --smoothing keyframes --hints`."""
    _clip(tmp_path / "frames")
    sidecar = tmp_path / "keyframes.hints.json"
    sidecar.write_text(
        json.dumps({"keyframes": {"0": {"points": [{"x": 56 / 160, "y": 46 / 96, "color": "#1846d8"}]}}})
    )
    runs = {}
    for name, extra in (("plain", []), ("hinted", ["--hints", str(sidecar)])):
        out = tmp_path / f"{name}.mkv"
        argv = ["video", str(tmp_path / "frames"), "-o", str(out), "--smoothing", "keyframes", "-q", *extra]
        assert cli.main(argv) == 0
        runs[name] = out
    square = (slice(36, 56), slice(46 + 18, 66 + 18))  # frame 6: moved 18 px
    plain, hinted = _b_at(runs["plain"], 6, *square), _b_at(runs["hinted"], 6, *square)
    assert hinted < plain - 10, (plain, hinted)


def test_cdc_is_zero_for_steady_colour_and_grows_with_colour_jumps():
    from colorization.temporal_metrics import cdc

    rng = np.random.default_rng(0)
    base = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
    assert cdc([base] * 6) == 0.0
    shifted = np.clip(base.astype(int) + [40, 0, -40], 0, 255).astype(np.uint8)
    small = np.clip(base.astype(int) + [4, 0, -4], 0, 255).astype(np.uint8)
    jumpy, mild = [base, shifted] * 3, [base, small] * 3
    assert cdc(jumpy) > cdc(mild) > 0.0
    assert np.isnan(cdc([base]))  # no pair of frames to compare


def test_each_segment_starts_at_a_keyframe_of_the_networks_own_colour(tmp_path, film_model):
    """Colorized in segments (as the workers do), every part's first frame is a keyframe with the network's
    colour as it is: the same pixels as frame-by-frame colorization ("none") gives that frame (FFV1, lossless)."""
    from colorization import build_pipeline, presets, segments

    _clip(tmp_path / "frames", n=12)
    plain = tmp_path / "none.mkv"
    build_pipeline(presets.get("film", model=str(film_model), smoothing="none")).run(
        tmp_path / "frames", plain
    )
    pipeline = build_pipeline(presets.get("film", model=str(film_model), smoothing="keyframes"))
    assert pipeline.roll() == (0, 1)
    plan = segments.plan(tmp_path / "frames", max_frames=5)
    parts = []
    for seg in plan:
        parts.append(tmp_path / f"part{seg.index}.mkv")
        segments.colorize_segment(tmp_path / "frames", seg, parts[-1], pipeline=pipeline)
    joined = tmp_path / "joined.mkv"
    assert segments.join(parts, tmp_path / "frames", joined)["frames"] == 12
    frames, reference = clips.decoded_frames(joined), clips.decoded_frames(plain)
    starts = [seg.start_frame for seg in plan]
    assert starts == [0, 5, 10]
    for t in starts:
        assert np.array_equal(frames[t], reference[t]), t
    # between keyframes the colour is carried, not the frame's own guess
    assert any(not np.array_equal(frames[t], reference[t]) for t in range(12) if t not in starts)
