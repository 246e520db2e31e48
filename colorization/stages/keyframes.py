"""temporal "keyframes": colour carried from keyframes through the shot by dense correspondence.

Where "flow" smoothing follows the previous *output* one frame at a time (so a frame where the flow fails lets
the network's own guess back in, and errors pile up along the chain), this stage works per keyframe interval,
as reference-based film colorization does (DeepRemaster, ColorMNet): a few keyframes get their colour from the
network (with staff hints where the film has them), and every frame between two keyframes takes its colour
from the nearer of them, found by DIS optical flow chained from the keyframe (forward from the one before,
backward from the one after). A pixel's confidence in a chained correspondence is the product of the
forward-backward checks along the chain times how well the keyframe's lightness matches there; where it is
low (occlusion, new objects, failed matches), the network's own colour for that frame shows through, blended by
that confidence. The output is ab only: the postprocess merges it with each frame's own lightness.

Keyframes: the first frame of every shot (scene cuts as the other stages detect them) and the last one, every
`interval` frames, a frame where the chain from the previous keyframe holds for less than `min_confidence` of
the picture (a large change), a frame that staff hinted (a hint's "frame"), and the first frame of a segment's
window (and the first frame after it, so that a segment and the next one agree on the keyframe they share). A
keyframe's own colour is the network's, blended with the colour carried to it from the previous keyframe by
`carry` x confidence, so a long shot keeps one colour; keyframes that start something (a shot, a segment, a
hint) take the network's colour as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from colorization.flow import Flow, consistency, lightness_of, photometric, warp
from colorization.frames import Frame
from colorization.registry import register
from colorization.stages.temporal import SceneCuts, _gray, _Smoother, blend

TRUST = (0.2, 0.6)  # chained confidence from which the carried colour starts to count, and counts fully


@dataclass
class _Held:
    """A frame of the open keyframe interval, with what the chain from the interval's keyframe knows of it."""

    frame: Frame
    gray: np.ndarray  # uint8 at the network's resolution
    L: (
        np.ndarray
    )  # lightness, slightly blurred: a chain drifts by fractions of a pixel, fine texture would not match
    net: np.ndarray  # the network's own ab
    to_prev: np.ndarray | None = None  # flow from this frame to the one before (flow.py convention)
    from_prev: np.ndarray | None = None  # flow from the one before to this frame
    where: np.ndarray | None = None  # (h, w, 2): where each pixel lies in the interval's keyframe
    confidence: np.ndarray | None = None  # trust in `where`, 0..1
    colour: np.ndarray | None = None  # a keyframe's ab as sent (later stages may change frame.ab)


def _grid(shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.dstack([xs, ys])


def _sample(data: np.ndarray, where: np.ndarray) -> np.ndarray:
    """`data` (of the keyframe) read at the positions `where` (absolute pixel coordinates), bilinear."""
    return cv2.remap(data, where[..., 0], where[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _soft_lightness(gray: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(lightness_of(gray), (0, 0), 1.0)


def _ramp(confidence: np.ndarray, low: float = TRUST[0], high: float = TRUST[1]) -> np.ndarray:
    """Confidence -> blend weight: 0 up to `low`, 1 from `high`. A chain that holds everywhere still scores
    0.7-0.9 (bilinear sampling, small photometric changes); letting 10-30% of the network's frame-by-frame
    guess through there would bring its flicker back."""
    return np.clip((confidence - low) / (high - low), 0.0, 1.0).astype(np.float32)


def _hinted_here(frame: Frame) -> bool:
    """Whether staff placed a hint on this very frame (colorization.hints.carry adds it here)."""
    return any(getattr(mark, "frame", None) == frame.index for mark in frame.info.get("hints") or ())


@register("temporal", "keyframes")
class KeyframeAb(_Smoother):
    """Colour propagated from keyframes along chained optical flow, the network's colour where the chain fails.

    `interval`: most frames from one keyframe to the next; `min_confidence`: mean chained confidence below which
    a frame becomes a keyframe (a large change); `carry`: weight of the previous keyframe's colour in the next
    keyframe's where the chain is fully trusted; `strength`: the same for the frames between keyframes.
    """

    name = "keyframes"
    label = "Keyframe propagation (long shots)"
    pre_roll = 0  # a segment starts at a keyframe: nothing before it is needed
    post_roll = 1  # the next segment's first frame: the keyframe both segments share

    def __init__(
        self,
        interval: int = 12,
        min_confidence: float = 0.5,
        carry: float = 0.8,
        strength: float = 1.0,
        cut_threshold: float = 0.5,
        static_tol: int | None = 2,
    ):
        if interval < 1:
            raise ValueError(f"keyframes interval must be >= 1, got {interval}")
        for key, value in (("min_confidence", min_confidence), ("carry", carry), ("strength", strength)):
            if not 0 <= value <= 1:
                raise ValueError(f"keyframes {key} must be in [0, 1], got {value}")
        self.interval, self.min_confidence = interval, min_confidence
        self.carry, self.strength = carry, strength
        self.cut_threshold, self.static_tol = cut_threshold, static_tol

    def __call__(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        cuts, flow = SceneCuts(self.cut_threshold), Flow(static_tol=self.static_tol)
        held: list[
            _Held
        ] = []  # held[0]: the interval's first keyframe (already sent); the rest wait for the next
        warmup: bool | None = None
        for frame in frames:
            gray = _gray(frame)
            cut = cuts(gray)
            frame.info["scene_cut"] = cut
            item = _Held(frame, gray, _soft_lightness(gray), frame.ab.astype(np.float32))
            edge = (
                warmup is not None and bool(frame.info.get("warmup")) != warmup
            )  # a segment's window starts/ends
            warmup = bool(frame.info.get("warmup"))
            if cut or not held or held[0].net.shape != item.net.shape:
                yield from self._close(held, fresh=False)  # the shot's last frame is its last keyframe
                held[:] = [self._start(item, item.net)]
                yield frame
                continue
            last = held[-1]
            item.to_prev, item.from_prev = flow(gray, last.gray), flow(last.gray, gray)
            item.where = warp(last.where, item.to_prev)
            item.confidence = np.minimum(
                warp(last.confidence, item.to_prev), consistency(item.to_prev, item.from_prev)
            )
            held.append(item)
            fresh = edge or _hinted_here(frame)
            trusted = float(self._trust(held[0], item).mean())
            frame.info["flow_confidence"] = trusted
            if fresh or len(held) > self.interval or trusted < self.min_confidence:
                yield from self._close(held, fresh=fresh)
                held[:] = [held[-1]]
        yield from self._close(held, fresh=False)

    @staticmethod
    def _start(item: _Held, colour: np.ndarray) -> _Held:
        """Make `item` a keyframe with this colour, the start of a chain."""
        item.where, item.confidence = _grid(item.net.shape[:2]), np.ones(item.net.shape[:2], np.float32)
        item.colour = item.frame.ab = colour
        item.frame.info["keyframe"] = True
        return item

    @staticmethod
    def _trust(key: _Held, item: _Held) -> np.ndarray:
        """Confidence that `item.where` finds each pixel of `item` in the keyframe `key`."""
        return item.confidence * photometric(item.L, _sample(key.L, item.where))

    def _close(self, held: list[_Held], fresh: bool) -> Iterator[Frame]:
        """Send the interval's frames after its first keyframe; the last one held is its second keyframe.
        A `fresh` keyframe keeps the network's colour; otherwise the first keyframe's colour is carried to it."""
        if len(held) < 2:
            return
        first, last, n = held[0], held[-1], len(held) - 1
        key0 = first.colour
        if fresh:
            key1 = last.net
        else:
            key1 = blend(last.net, _sample(key0, last.where), self.carry * _ramp(self._trust(first, last)))
        self._start(last, key1)  # after the chain from `first` to it has been read
        # back from the second keyframe, along the flows the forward chain already computed
        where, confidence = _grid(key1.shape[:2]), np.ones(key1.shape[:2], np.float32)
        for t in range(n - 1, 0, -1):
            step = held[t + 1]
            where = warp(where, step.from_prev)
            confidence = np.minimum(
                warp(confidence, step.from_prev), consistency(step.from_prev, step.to_prev)
            )
            item = held[t]
            w0 = self._trust(first, item) * (n - t) / n  # the nearer keyframe counts more
            w1 = confidence * photometric(item.L, _sample(last.L, where)) * t / n
            carried = blend(_sample(key0, item.where), _sample(key1, where), w1 / np.maximum(w0 + w1, 1e-6))
            item.frame.ab = blend(item.net, carried, self.strength * _ramp(w0 + w1))
        for item in held[1:]:
            yield item.frame
