"""A pipeline is a decoder, an ordered list of stages and an encoder, built from a plain JSON-able spec.

    {"decode": "image",
     "preprocess": [...], "colorize": {"name": "unet", "model": "default"},
     "temporal": [{"name": "ema", "alpha": 0.6}], "postprocess": [{"name": "merge_luma"}],
     "encode": {"name": "image", "format": "jpeg"}}

Each entry is a stage name or a dict whose `name` picks the factory and whose other keys are its kwargs
(BasicSR's `type` + kwargs). Frames stream through as generators, so a long film never sits in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colorization.frames import Decoded, Frame
from colorization.registry import create

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

    def run(self, src: str | Path, dst: str | Path, on_progress: ProgressCallback | None = None) -> RunResult:
        start = time.perf_counter()
        decoded: Decoded = self.decoder(Path(src))
        counted = 0

        def counting(frames: Iterator[Frame]) -> Iterator[Frame]:
            nonlocal counted
            for frame in frames:
                yield frame
                counted += 1
                if on_progress is not None:
                    on_progress(counted, decoded.count)

        try:
            frames: Iterator[Frame] = decoded.frames
            for stage in self.stages:
                frames = stage(frames)
            written = self.encoder(counting(frames), Path(dst), decoded, self.context())
        finally:
            decoded.close()
        return RunResult(
            frames=counted, seconds=time.perf_counter() - start, dst=Path(dst), info=written or {}
        )


def build_pipeline(spec: dict) -> Pipeline:
    """Create every stage a spec names (unknown names fail loudly, listing the known ones)."""
    import colorization.stages  # noqa: F401  (registers the built-in stages)

    decoder = _create("decode", _entries(spec["decode"])[0])
    stages = [_create(kind, entry) for kind in STAGE_ORDER for entry in _entries(spec.get(kind))]
    encoder = _create("encode", _entries(spec["encode"])[0])
    return Pipeline(decoder=decoder, stages=stages, encoder=encoder, spec=spec)
