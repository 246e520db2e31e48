"""A pipeline is a decoder, an ordered list of stages and an encoder, built from a plain JSON-able spec.

    {"decode": "image",
     "preprocess": [...], "colorize": {"name": "unet", "model": "default"},
     "temporal": [{"name": "ema", "alpha": 0.6}], "postprocess": [{"name": "merge_luma"}],
     "encode": {"name": "image", "format": "jpeg"}}

Each entry is a stage name or a dict whose `name` picks the factory and whose other keys are its kwargs
(BasicSR's `type` + kwargs). Frames stream through as generators, so a long film never sits in memory.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colorization.frames import Decoded, Frame, FrameWindow
from colorization.hints import Hints, Mark
from colorization.provenance import Rights
from colorization.registry import create

log = logging.getLogger(__name__)

STAGE_ORDER = ("preprocess", "colorize", "temporal", "postprocess")
ProgressCallback = Callable[[int, int | None], None]


def _entries(value: Any) -> list[dict]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [{"name": item} if isinstance(item, str) else dict(item) for item in items]


def _create(kind: str, entry: dict):
    params = dict(entry)
    name = params.pop("name")
    return create(kind, name, **params)


@dataclass
class RunResult:
    frames: int
    seconds: float
    dst: Path
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Pipeline:
    decoder: Any  # callable: path -> Decoded
    stages: list[Any]  # callables: Iterator[Frame] -> Iterator[Frame]
    encoder: Any  # callable: (frames, dst, decoded, context) -> dict of what was written
    spec: dict = field(default_factory=dict)

    def context(self) -> dict[str, Any]:
        """What the stages say about themselves (model name, version, smoothing), for provenance."""
        ctx: dict[str, Any] = {}
        for stage in self.stages:
            describe = getattr(stage, "describe", None)
            if describe is not None:
                ctx.update(describe())
        return ctx

    def roll(self) -> tuple[int, int]:
        """Frames the stages need before and after a window to enter it in the state the whole film gives."""
        pre = max((getattr(s, "pre_roll", 0) for s in self.stages), default=0)
        post = max((getattr(s, "post_roll", 0) for s in self.stages), default=0)
        return pre, post

    def takes_hints(self) -> bool:
        """Whether a stage of this pipeline follows colour hints (a model with hint channels)."""
        return any(getattr(stage, "takes_hints", False) for stage in self.stages)

    def hint_context(self, hints: Iterable[Mark] | None) -> dict[str, Any]:
        """What provenance says about the hints given for one file: how many points and strokes were followed
        (and the hints themselves, so the result can be reproduced), or how many a model without hint channels
        ignored, and the colour strength they asked for (any model applies it)."""
        given = Hints.of(hints)
        context: dict[str, Any] = {}
        if given.strength is not None:
            context["colour_strength"] = given.strength
        if not given:
            return context
        if not self.takes_hints():
            log.warning("this model takes no colour hints; the %d hints given are ignored", len(given))
            return {**context, "colour_hints_ignored": len(given)}
        from colorization.hints import dumps

        strokes = {"colour_hint_strokes": len(given.strokes)} if given.strokes else {}
        return {**context, "colour_hints": len(given.points), **strokes, "colour_hint_points": dumps(given)}

    def run(
        self,
        src: str | Path,
        dst: str | Path,
        on_progress: ProgressCallback | None = None,
        window: tuple[int, int | None] | None = None,
        source_sha256: str | None = None,
        hints: Iterable[Mark] | None = None,
        rights: Rights | None = None,
    ) -> RunResult:
        """Decode `src`, run the stages, encode `dst`. `window` = (start, stop): frames [start, stop) of a film
        only (a segment), decoded with the warm-up the stages need and written without it (and without the
        film's audio, which `segments.join` adds); `source_sha256` saves hashing a film the caller knows.
        `hints` (colour hints, colorization.hints) go with every frame to a model that takes them; `rights`
        (the item's title, identifier, rights statement and credit) go into the file's metadata."""
        start = time.perf_counter()
        context = {**self.context(), **self.hint_context(hints)}
        if rights is not None:
            context["rights"] = rights
        if window is None and source_sha256 is None:
            decoded: Decoded = self.decoder(Path(src))
        elif not getattr(self.decoder, "windowed", False):
            raise ValueError(f"{src}: a frame window needs a film decoder, not {type(self.decoder).__name__}")
        else:
            frames_wanted = FrameWindow(window[0], window[1], *self.roll()) if window else FrameWindow()
            decoded = self.decoder(Path(src), frames_wanted, sha256=source_sha256)
        counted = 0

        def counting(frames: Iterator[Frame]) -> Iterator[Frame]:
            nonlocal counted
            for frame in frames:
                yield frame
                counted += 1
                if on_progress is not None:
                    on_progress(counted, decoded.count)

        try:
            frames: Iterator[Frame] = with_hints(decoded.frames, hints, self.takes_hints())
            for stage in self.stages:
                frames = stage(frames)
            written = self.encoder(counting(frames), Path(dst), decoded, context)
        finally:
            decoded.close()
        return RunResult(
            frames=counted, seconds=time.perf_counter() - start, dst=Path(dst), info=written or {}
        )


def with_hints(
    frames: Iterator[Frame], hints: Iterable[Mark] | None, followed: bool = True
) -> Iterator[Frame]:
    """The frames, each carrying the hints that hold there (colorization.hints.carry: a film's points and
    strokes from their keyframe to the next scene cut) when `followed`, and the colour strength the hints ask
    for; unchanged when there are none."""
    given = Hints.of(hints)
    if given.strength is not None:
        frames = _with_strength(frames, given.strength)
    if not given or not followed:
        return frames
    from colorization.hints import carry

    return carry(frames, given)


def _with_strength(frames: Iterator[Frame], strength: float) -> Iterator[Frame]:
    for frame in frames:
        frame.info["strength"] = strength
        yield frame


def build_pipeline(spec: dict) -> Pipeline:
    """Create every stage a spec names (unknown names fail loudly, listing the known ones)."""
    import colorization.stages  # noqa: F401  (registers the built-in stages)

    decoder = _create("decode", _entries(spec["decode"])[0])
    stages = [_create(kind, entry) for kind in STAGE_ORDER for entry in _entries(spec.get(kind))]
    encoder = _create("encode", _entries(spec["encode"])[0])
    return Pipeline(decoder=decoder, stages=stages, encoder=encoder, spec=spec)
