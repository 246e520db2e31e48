"""Colorization adapters: portal rows in, library calls, stored results out. Runs only in workers."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from colorization.media.previews import write_preview
from portal import broker
from portal.catalog import fixity
from portal.jobs.models import Cancelled, ColorizationRequest, Segment, Status
from workers.files import local_path, scratch, store
from workers.models import checkpoint_path, describe

log = logging.getLogger("workers")
JOIN_SHARE = 0.95  # the join is the last 5 % of a film's progress


def _options(req: ColorizationRequest) -> dict:
    options = {k: v for k, v in req.options.items() if k in ("smoothing", "quality", "batch_size")}
    if req.preset != "film":
        options.pop("smoothing", None)
    options["model"] = str(checkpoint_path(req.model))
    return options


def _result_name(req: ColorizationRequest, suffix: str) -> str:
    stem = Path(req.item.original_name).stem[:60]
    return f"{stem}-colorized-{req.model.name}{suffix}"


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def verified_original(req: ColorizationRequest, src: Path) -> str:
    """The SHA-256 of the bytes about to be colorized. When they are not the original accepted at upload the
    item is marked (admins see it) and the job stops: a changed original is never colorized silently."""
    item = req.item
    with open(src, "rb") as f:
        found = fixity.file_digest(f)
    problem = fixity.compare(found, item.sha256, item.size)
    fixity.record(item, problem)
    if problem:
        raise ValueError(f"Colorization stopped: the original failed its fixity check. {problem}")
    return found[0]


def _provenance(req: ColorizationRequest, written: dict, source_sha256: str) -> dict:
    """What the staff page shows about a result (the file itself carries its own XMP/metadata record)."""
    info = req.model.info
    if not info.get("version") and not info.get("error"):
        info = describe(checkpoint_path(req.model))
        type(req.model).objects.filter(pk=req.model.pk).update(info=_jsonable(info))
    record = {
        "model": info.get("name") or req.model.name,
        "model_version": info.get("version", ""),
        "checkpoint": info.get("file", ""),
        "source": req.item.original_name,
        "source_sha256": source_sha256,  # hashed from the bytes the pipeline read
        "preset": req.preset,
        **{k: v for k, v in req.options.items()},
    }
    record.update({k: v for k, v in _jsonable(written).items() if k not in ("path", "dst")})
    return record


def colorize_photo(req: ColorizationRequest) -> None:
    from colorization.api import cached_pipeline

    suffix = Path(req.item.original_name).suffix.lower()
    if suffix not in (".jpg", ".jpeg", ".png", ".tif", ".tiff"):
        suffix = ".png"
    with local_path(req.item.original) as src, scratch() as tmp:
        source_sha256 = verified_original(req, src)
        dst = tmp / _result_name(req, suffix)
        # a warm worker keeps its pipelines (and so the loaded weights) between requests (STYLE.md section 9)
        pipeline = cached_pipeline(req.preset, **_options(req))
        result = pipeline.run(src, dst, on_progress=req.set_progress)
        dst = Path(
            result.info.get("path") or dst
        )  # the encoder may have fixed the suffix to match the format
        store(req.result, dst.name, dst)
        preview = tmp / "preview.jpg"
        write_preview(dst, preview, max_side=1600)
        store(req.result_preview, f"{dst.stem}-preview.jpg", preview)
    if not req.finish(
        provenance=_provenance(req, result.info, source_sha256), frames=result.frames, seconds=result.seconds
    ):
        req.result.delete(save=False)  # cancelled while running: keep no unwanted result
        req.result_preview.delete(save=False)


# Film: plan -> one task per segment -> join (STYLE.md section 9)


def start_film(req: ColorizationRequest) -> None:
    from colorization import segments
    from workers import tasks

    with local_path(req.item.original) as src:
        verified_original(req, src)  # the segments and the join read these same stored bytes
        plan = segments.plan(src, max_frames=settings.SEGMENT_FRAMES)
    if not plan:
        raise ValueError(f"{req.item.original_name}: the film has no frames to colorize")
    with transaction.atomic():
        rows = []
        for part in plan:
            seg, _ = Segment.objects.get_or_create(
                request=req,
                index=part.index,
                defaults={
                    "start_frame": part.start_frame,
                    "end_frame": part.end_frame,
                    "plan": part.to_dict(),
                },
            )
            rows.append(seg)
        ColorizationRequest.objects.filter(pk=req.pk).update(phase="segments", updated=timezone.now())
        for seg in rows:
            if seg.status == Status.PENDING:
                broker.send_on_commit(seg, tasks.colorize_segment)


def colorize_segment(seg: Segment) -> None:
    from colorization import segments

    req = seg.request
    if req.status != Status.RUNNING:  # the request was cancelled or failed meanwhile
        raise Cancelled(f"request {req.pk} is no longer running")

    def on_progress(done: int, total: int | None) -> None:
        before = seg.progress
        seg.set_progress(done, total)  # both raise Cancelled when the segment or its request stopped
        if seg.progress != before:
            ColorizationRequest.update_running(req.pk, progress=JOIN_SHARE * req.segment_progress())

    with local_path(req.item.original) as src, scratch() as tmp:
        dst = tmp / f"request{req.pk}-part{seg.index:04d}.mp4"
        segments.colorize_segment(
            src, seg.plan, dst, preset=req.preset, on_progress=on_progress, **_options(req)
        )
        store(seg.part, dst.name, dst)
    seg.finish()
    _join_when_complete(req)


def _join_when_complete(req: ColorizationRequest) -> None:
    """The last segment to finish enqueues the join; the conditional UPDATE lets exactly one win."""
    from workers import tasks

    if req.segments.exclude(status=Status.DONE).exists():
        return
    won = ColorizationRequest.objects.filter(pk=req.pk, status=Status.RUNNING, phase="segments").update(
        phase="joining", progress=JOIN_SHARE, updated=timezone.now()
    )
    if won:  # a broker outage here leaves it "joining": requeue_stale sends the join later
        transaction.on_commit(lambda: broker.send(tasks.join_segments, req.pk))


def join_film(req: ColorizationRequest) -> None:
    from colorization import segments

    # claim the join atomically: a redelivered or requeued join that finds it taken does nothing
    claimed = (
        type(req)
        .objects.filter(pk=req.pk, status=Status.RUNNING, phase="joining")
        .update(phase="merging", updated=timezone.now())
    )
    if not claimed:
        return  # duplicate delivery, already joined, or another worker is joining
    parts = list(req.segments.order_by("index"))
    with local_path(req.item.original) as src, scratch() as tmp:
        paths = []
        for seg in parts:
            with local_path(seg.part) as part_path:
                local = tmp / Path(seg.part.name).name
                local.write_bytes(part_path.read_bytes())
            paths.append(local)
        dst = tmp / _result_name(req, ".mp4")
        info = segments.join(paths, src, dst)
        store(req.result, dst.name, dst)
        poster = tmp / "poster.jpg"
        write_preview(dst, poster, max_side=1280)
        store(req.result_preview, f"{dst.stem}-poster.jpg", poster)
    frames = sum(seg.end_frame - seg.start_frame for seg in parts)
    seconds = sum(((s.finished or s.started) - s.started).total_seconds() for s in parts if s.started)
    provenance = _provenance(req, info if isinstance(info, dict) else {}, req.item.sha256)
    provenance["segments"] = len(parts)
    if not req.finish(provenance=provenance, frames=frames, seconds=seconds, phase="done"):
        req.result.delete(save=False)  # cancelled while joining: keep no result
        req.result_preview.delete(save=False)
        return
    for seg in parts:  # the joined film holds everything now; drop the parts
        seg.part.delete(save=True)
    log.info("request %s joined from %d segments: %s", req.pk, len(parts), json.dumps(provenance)[:200])
