"""The library's front door for files: colorize one, or many with shared forward passes.

colorize_file("scan.tif", "out/scan.png", preset="photo", model="default")
colorize_files([(src, dst), ...], preset="photo")      # per-file results; one bad file never stops the rest
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from colorization import presets
from colorization.frames import Decoded, Frame
from colorization.hints import Hints, Mark
from colorization.pipeline import Pipeline, ProgressCallback, RunResult, build_pipeline
from colorization.provenance import Rights

PathLike = str | os.PathLike


@functools.lru_cache(maxsize=4)
def _cached(preset: str, options_json: str) -> Pipeline:
    return build_pipeline(presets.get(preset, **json.loads(options_json)))


def cached_pipeline(preset: str = "photo", **options: Any) -> Pipeline:
    """The pipeline of a preset with these options, built once per process and kept (with its loaded model)
    for the next call: a worker or a command colorizing many photos or film segments loads the model once.
    Options must be JSON values (paths as strings)."""
    return _cached(preset, json.dumps(options, sort_keys=True))


def colorize_file(
    src: PathLike,
    dst: PathLike,
    preset: str = "photo",
    on_progress: ProgressCallback | None = None,
    hints: Iterable[Mark] | None = None,
    rights: Rights | None = None,
    **options: Any,
) -> RunResult:
    """Colorize `src` into `dst` (atomic write, provenance embedded). `hints`: colour hints
    (colorization.hints) for a model that takes them; `rights`: what the file's metadata says of the item and
    its terms of use (provenance.Rights). `options`: see presets.get()."""
    pipeline = build_pipeline(presets.get(preset, **options))
    result = pipeline.run(src, dst, on_progress=on_progress, hints=hints, rights=rights)
    if result.info.get("path"):
        result.dst = Path(result.info["path"])  # the encoder may fix the suffix to match the format
    return result


@dataclass
class FileResult:
    src: Path
    dst: Path
    ok: bool
    error: str | None = None
    seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)  # what was written + what the decoder saw


def _one_line(exc: BaseException, src: Path) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if str(src) in text else f"{src}: {text}"


def colorize_files(
    pairs: Sequence[tuple[PathLike, PathLike]],
    preset: str = "photo",
    on_result: Callable[[FileResult], None] | None = None,
    pipeline: Pipeline | None = None,
    hints: Sequence[Iterable[Mark] | None] | None = None,
    **options: Any,
) -> list[FileResult]:
    """Colorize many photos; frames of consecutive files share forward passes (the stage's batch size).

    A file that fails to decode or encode gets a FileResult with a one-line `error`; the others go on.
    `hints[k]`: colour hints for the k-th pair (None or [] = none).
    """
    pipeline = pipeline or build_pipeline(presets.get(preset, **options))
    pairs = [(Path(s), Path(d)) for s, d in pairs]
    hints = [Hints.of(h) for h in hints] if hints is not None else [Hints()] * len(pairs)
    if len(hints) != len(pairs):
        raise ValueError(f"{len(hints)} hint lists for {len(pairs)} files")
    followed = pipeline.takes_hints()
    results: dict[int, FileResult] = {}
    opened: dict[int, tuple[Decoded, float]] = {}

    def finish(k: int, result: FileResult) -> None:
        results[k] = result
        if on_result is not None:
            on_result(result)

    def source() -> Iterator[Frame]:
        for k, (src, dst) in enumerate(pairs):
            start = time.perf_counter()
            try:
                decoded = pipeline.decoder(src)
            except Exception as exc:
                finish(k, FileResult(src, dst, False, _one_line(exc, src), time.perf_counter() - start))
                continue
            opened[k] = (decoded, start)
            for frame in decoded.frames:
                frame.info["job"] = k
                if hints[k] and followed:
                    frame.info["hints"] = list(hints[k])
                if hints[k].strength is not None:
                    frame.info["strength"] = hints[k].strength
                yield frame

    frames: Iterator[Frame] = source()
    for stage in pipeline.stages:
        frames = stage(frames)
    context = pipeline.context()
    try:
        for frame in frames:
            k = frame.info.pop("job")
            src, dst = pairs[k]
            decoded, start = opened.pop(k)
            try:
                file_context = {**context, **pipeline.hint_context(hints[k])}
                written = pipeline.encoder(iter([frame]), dst, decoded, file_context)
                info = {**written, "source": {k2: v for k2, v in decoded.info.items() if k2 != "exif"}}
                finish(
                    k,
                    FileResult(
                        src, Path(written.get("path", dst)), True, None, time.perf_counter() - start, info
                    ),
                )
            except Exception as exc:
                text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                message = (
                    text if str(dst) in text or str(src) in text else f"{src}: could not write {dst}: {text}"
                )
                finish(k, FileResult(src, dst, False, message, time.perf_counter() - start))
            finally:
                decoded.close()
    except Exception as exc:
        # A stage failed on a batch: retry its files one by one so that only the culprit is reported.
        pending = [k for k in range(len(pairs)) if k not in results]
        if len(pending) == 1 or len(pairs) == 1:
            for k in pending:
                finish(k, FileResult(pairs[k][0], pairs[k][1], False, _one_line(exc, pairs[k][0])))
        else:
            for k in pending:
                single = colorize_files([pairs[k]], pipeline=pipeline, hints=[hints[k]])[0]
                finish(k, single)
    return [results[k] for k in range(len(pairs))]


def colorize_image(src: PathLike, pipeline: Pipeline) -> tuple[np.ndarray, dict]:
    """Decode and colorize in memory (no encoder): the colour image and what the decoder saw."""
    decoded = pipeline.decoder(Path(src))
    try:
        frames: Iterator[Frame] = decoded.frames
        for stage in pipeline.stages:
            frames = stage(frames)
        frame = next(iter(frames))
        image = frame.image
        if not isinstance(image, np.ndarray):  # a huge picture's result, made in bands: held whole here
            image = np.concatenate(list(image.make()))
    finally:
        decoded.close()
    return image, decoded.info
