"""Temporal smoothing of the predicted chrominance, so colours do not flicker from frame to frame.

A per-frame network guesses each frame's colours on its own; small changes in the input flip its guesses.
These stages read and replace `frame.ab` (network resolution) and use the frame's own lightness for motion:

- "none": per-frame predictions as they are;
- "ema": exponential smoothing of ab (cheap; smears moving objects a little);
- "window": ab averaged over a centred window of past and future frames, each warped onto the current one
  by optical flow and weighted by its flow confidence (delays output by `radius` frames);
- "flow": the previous *output* warped onto the current frame by DIS optical flow and blended with the
  current prediction by a per-pixel confidence (forward-backward consistency x lightness match), so moving
  objects keep their colour and occluded pixels take the new prediction. Where nothing changed (a 3x3
  neighbourhood within `static_tol` gray levels) the flow is taken as zero: DIS guesses in flat regions.

- "keyframes" (stages/keyframes.py): colour carried from keyframes through the shot by chained flow.

Every stage resets at scene cuts. Blends average the chroma magnitude separately from the hue direction, so
averaging two different guesses does not wash the colour out towards grey.
`pre_roll`/`post_roll` say how many frames before/after a segment the stage needs to reach the state it
would have had running over the whole film (segments.py decodes that many extra frames).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator

import numpy as np

from colorization.flow import Flow, consistency, gray_at, lightness_of, photometric, warp
from colorization.frames import Frame
from colorization.registry import register


def blend(current: np.ndarray, other: np.ndarray, weight: np.ndarray | float) -> np.ndarray:
    """(1 - w) * current + w * other for ab, keeping the mean chroma magnitude (no greying)."""
    w = weight[..., None] if isinstance(weight, np.ndarray) else weight
    mixed = (1 - w) * current + w * other
    magnitude = (1 - w) * np.linalg.norm(current, axis=-1, keepdims=True) + w * np.linalg.norm(
        other, axis=-1, keepdims=True
    )
    norm = np.linalg.norm(mixed, axis=-1, keepdims=True)
    return (mixed * (magnitude / np.maximum(norm, 1e-3))).astype(np.float32)


def _gray(frame: Frame) -> np.ndarray:
    if frame.ab is None:
        raise ValueError("temporal smoothing needs frame.ab: put a colorize stage before it")
    return gray_at(frame.image, frame.ab.shape[:2])


class SceneCuts:
    """Hard cuts between consecutive frames: the lightness histogram jumps, or a 16 x 16 thumbnail (which a
    few pixels of motion barely changes) stops resembling the previous one."""

    def __init__(self, threshold: float = 0.5, min_correlation: float = 0.3):
        self.threshold, self.min_correlation = threshold, min_correlation
        self.prev: tuple[np.ndarray, np.ndarray] | None = None

    @staticmethod
    def _signature(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        hist = np.bincount(gray.ravel() >> 3, minlength=32).astype(np.float32)
        thumb = cv2.resize(gray, (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32)
        return hist / hist.sum(), thumb

    def __call__(self, gray: np.ndarray) -> bool:
        """True when `gray` starts a new shot (also for the first frame)."""
        sig = self._signature(gray)
        prev, self.prev = self.prev, sig
        if prev is None:
            return True
        hist_distance = 0.5 * float(np.abs(sig[0] - prev[0]).sum())  # total variation, 0..1
        a, b = sig[1] - sig[1].mean(), prev[1] - prev[1].mean()
        spread = float(np.sqrt((a * a).sum() * (b * b).sum()))
        if spread < (16 * 16 * 2.0**2):  # a flat frame (black, fade): no structure to compare
            return hist_distance > self.threshold
        changed = float(np.abs(sig[1] - prev[1]).mean()) > 8.0
        return hist_distance > self.threshold or (
            changed and float((a * b).sum()) / spread < self.min_correlation
        )


class _Smoother:
    name = "none"
    label = "None (frame by frame)"
    pre_roll = 0
    post_roll = 0

    def describe(self) -> dict:
        return {"smoothing": self.name}


@register("temporal", "none")
class NoSmoothing(_Smoother):
    def __call__(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        cuts = SceneCuts()
        for frame in frames:
            frame.info["scene_cut"] = cuts(_gray(frame))
            yield frame


@register("temporal", "ema")
class EmaAb(_Smoother):
    """ab_t = alpha * prediction_t + (1 - alpha) * ab_{t-1}, restarted at each cut."""

    name = "ema"
    label = "Exponential smoothing"

    def __init__(self, alpha: float = 0.6, cut_threshold: float = 0.5):
        if not 0 < alpha <= 1:
            raise ValueError(f"ema alpha must be in (0, 1], got {alpha}")
        self.alpha, self.cut_threshold = alpha, cut_threshold
        self.pre_roll = min(64, math.ceil(math.log(1e-3) / math.log(max(1 - alpha, 1e-6))))

    def __call__(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        cuts, state = SceneCuts(self.cut_threshold), None
        for frame in frames:
            cut = cuts(_gray(frame))
            frame.info["scene_cut"] = cut
            if state is None or cut or state.shape != frame.ab.shape:
                state = frame.ab.astype(np.float32)
            else:
                state = blend(frame.ab.astype(np.float32), state, 1 - self.alpha)
            frame.ab = state
            yield frame


@register("temporal", "flow")
class FlowAb(_Smoother):
    """Previous output warped by DIS flow, blended with the prediction by per-pixel confidence.

    `strength` is the weight of the warped history where the flow is fully trusted; `min_confidence` of
    the frame's mean confidence below which the history is dropped (a cut the detector missed).
    """

    name = "flow"
    label = "Optical flow (best, slowest)"
    pre_roll = 24

    def __init__(
        self,
        strength: float = 0.85,
        cut_threshold: float = 0.5,
        min_confidence: float = 0.15,
        static_tol: int | None = 2,
    ):
        self.strength, self.cut_threshold, self.min_confidence = strength, cut_threshold, min_confidence
        self.static_tol = static_tol

    def __call__(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        cuts, flow = SceneCuts(self.cut_threshold), Flow(static_tol=self.static_tol)
        prev_gray = prev_ab = None
        for frame in frames:
            gray = _gray(frame)
            cut = cuts(gray)
            frame.info["scene_cut"] = cut
            ab = frame.ab.astype(np.float32)
            if not cut and prev_ab is not None and prev_ab.shape == ab.shape:
                fwd, bwd = flow(gray, prev_gray), flow(prev_gray, gray)
                conf = consistency(fwd, bwd) * photometric(
                    lightness_of(gray), lightness_of(warp(prev_gray, fwd))
                )
                if float(conf.mean()) >= self.min_confidence:
                    ab = blend(ab, warp(prev_ab, fwd), self.strength * conf)
                frame.info["flow_confidence"] = float(conf.mean())
            frame.ab = ab
            prev_gray, prev_ab = gray, ab
            yield frame


@register("temporal", "window")
class WindowAb(_Smoother):
    """ab averaged over frames t-radius..t+radius of the same shot, each warped onto frame t by flow."""

    name = "window"
    label = "Sliding window"

    def __init__(
        self, radius: int = 2, sigma: float = 1.5, cut_threshold: float = 0.5, static_tol: int | None = 2
    ):
        if radius < 1:
            raise ValueError(f"window radius must be >= 1, got {radius}")
        self.radius, self.sigma, self.cut_threshold, self.static_tol = (
            radius,
            sigma,
            cut_threshold,
            static_tol,
        )
        self.pre_roll = self.post_roll = radius

    def __call__(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        cuts, flow = SceneCuts(self.cut_threshold), Flow(static_tol=self.static_tol)
        buf: deque = deque()  # (frame, gray, predicted ab, shot number), at most 2 * radius + 1
        shot, emitted = 0, 0  # emitted: how many buffered frames were already sent
        for frame in frames:
            gray = _gray(frame)
            cut = cuts(gray)
            frame.info["scene_cut"] = cut
            shot += cut
            buf.append((frame, gray, frame.ab.astype(np.float32), shot))
            # the frame `radius` behind the newest one now has its full window
            if len(buf) - emitted > self.radius:
                yield self._smooth(buf, emitted, flow)
                emitted += 1
            while emitted > self.radius:
                buf.popleft()
                emitted -= 1
        while emitted < len(buf):
            yield self._smooth(buf, emitted, flow)
            emitted += 1

    def _smooth(self, buf: deque, centre: int, flow: Flow) -> Frame:
        frame, gray, ab, shot = buf[centre]
        L = lightness_of(gray)
        total = np.ones(ab.shape[:2], np.float32)
        acc, mag = ab.copy(), np.linalg.norm(ab, axis=-1)
        for j, (_, g, other, s) in enumerate(buf):
            if j == centre or s != shot or other.shape != ab.shape:
                continue
            fwd, bwd = flow(gray, g), flow(g, gray)
            w = math.exp(-(((j - centre) / self.sigma) ** 2) / 2)
            w = w * consistency(fwd, bwd) * photometric(L, lightness_of(warp(g, fwd)))
            warped = warp(other, fwd)
            acc += w[..., None] * warped
            mag += w * np.linalg.norm(warped, axis=-1)
            total += w
        acc /= total[..., None]
        mag /= total
        frame.ab = (acc * (mag / np.maximum(np.linalg.norm(acc, axis=-1), 1e-3))[..., None]).astype(
            np.float32
        )
        return frame
