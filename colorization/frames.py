"""What flows through a pipeline: frames, and what a decoder says about its source.

A photo is a one-frame video, so one protocol covers both. Contract between stages:
- decoders yield `Frame(image=RGB uint8 or uint16 array H x W x 3 at full resolution, space="rgb")`;
- the colorize stage sets `frame.ab`: the predicted chrominance at the network's resolution, float32
  h x w x 2 in Lab units (not normalized), leaving `frame.image` untouched;
- temporal stages read and replace `frame.ab` (and may read `frame.image` for motion);
- postprocess stages upsample `frame.ab` to full size, merge it with the original full-resolution L and
  put the colour result back in `frame.image` (same dtype as decoded);
- encoders write `frame.image`.
A huge photo (colorization.media.bands) is the exception: the decoder gives it reduced, with the picture in
`info["full"]`, and merge_luma leaves a `Bands` in `frame.image` (its size, dtype and a band maker), which the
encoder writes a band at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

import numpy as np


@dataclass
class Frame:
    index: int
    image: np.ndarray
    space: str = "rgb"
    ab: np.ndarray | None = None
    pts: int | None = None  # presentation timestamp in `time_base` units (video)
    time_base: Fraction | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FrameWindow:
    """Frames [start, stop) of a film, in presentation order (stop None: to the end). `pre_roll` frames before
    and `post_roll` after are decoded too, marked `info["warmup"] = True`: temporal stages warm up on them and
    encoders leave them out, so a part colorized on its own matches the same frames of the whole film."""

    start: int = 0
    stop: int | None = None
    pre_roll: int = 0
    post_roll: int = 0

    def __post_init__(self) -> None:
        if self.start < 0 or (self.stop is not None and self.stop < self.start):
            raise ValueError(f"frame window [{self.start}, {self.stop}) is empty or negative")

    def first_decoded(self) -> int:
        return max(0, self.start - self.pre_roll)

    def stop_decoded(self, total: int | None) -> int | None:
        """Index after the last frame to decode (None: to the end), given the film's length when known."""
        if self.stop is None:
            return total
        stop = self.stop + self.post_roll
        return stop if total is None else min(stop, total)

    def is_warmup(self, index: int) -> bool:
        return index < self.start or (self.stop is not None and index >= self.stop)

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.stop is None


WHOLE = FrameWindow()


@dataclass
class Decoded:
    """A source opened by a decoder: its frames (an iterator, consumed once) and what is known about it."""

    frames: Iterator[Frame]
    count: int | None = None  # number of frames, when known in advance
    fps: Fraction | None = None
    info: dict[str, Any] = field(default_factory=dict)  # path, sha256, size, mode, streams, ...

    def close(self) -> None:
        close = getattr(self.frames, "close", None)
        if close is not None:
            close()


class Stage(Protocol):
    def __call__(self, frames: Iterator[Frame]) -> Iterator[Frame]: ...
