"""What flows through a pipeline: frames, and what a decoder says about its source.

A photo is a one-frame video, so one protocol covers both (STYLE.md section 8). Contract between stages:
- decoders yield `Frame(image=RGB uint8 or uint16 array H x W x 3 at full resolution, space="rgb")`;
- the colorize stage sets `frame.ab`: the predicted chrominance at the network's resolution, float32
  h x w x 2 in Lab units (not normalized), leaving `frame.image` untouched;
- temporal stages read and replace `frame.ab` (and may read `frame.image` for motion);
- postprocess stages upsample `frame.ab` to full size, merge it with the original full-resolution L and
  put the colour result back in `frame.image` (same dtype as decoded);
- encoders write `frame.image`.
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
