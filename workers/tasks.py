"""Celery tasks. Each takes ids only and runs through `runner.run_job` (fetch the row, claim it, call the library,
store what it made, finish or fail); `files` is the storage bridge. The library is imported inside the task
bodies, so importing this module (as the web process does, for `.delay`) never loads torch.

Queues: colorize, colorize_segment and train -> "gpu"; previews, model inspection and joins -> "cpu";
the hint editor's quick preview -> "preview" (routes in portal/settings.py). A film is planned into segments,
one task each; the last one to finish queues the join (the request's `Phase` says where a film is).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.db.models import F

from portal.database import retrying
from portal.storage import is_disk_full, store_then_save
from workers.cache import DigestMismatch
from workers.files import local_path, model_checkpoint, original_copy, scratch
from workers.runner import run_job

log = logging.getLogger("workers")
THUMB_SIDE = 480
PREVIEW_SIDE = 1600
HINT_PREVIEW_INPUT_SIDE = 640  # the quick preview's long side (the network sees 224 px on the short side)
HINT_PREVIEW_QUALITY = 85


# ---------------------------------------------------------------- colorization
def _options(req) -> dict:
    options = {k: v for k, v in req.options.items() if k in ("smoothing", "quality", "batch_size")}
    if req.preset != "film":
        options.pop("smoothing", None)
    options["model"] = str(model_checkpoint(req.model))
    return options


def _result_name(req, suffix: str) -> str:
    return f"{Path(req.item.original_name).stem[:60]}-colorized-{req.model.name}{suffix}"


def _verified_original(req, src: Path) -> str:
    """The SHA-256 of the bytes about to be colorized. When they are not the original accepted at upload the
    item is marked (admins see it) and the job stops: a changed original is never colorized silently."""
    from colorization.media import sha256_stream

    with open(src, "rb") as f:
        found = sha256_stream(f)
    _check_fixity(req, found)
    return found[0]


def _check_fixity(req, found: tuple[str, int]) -> None:
    from portal.catalog import fixity

    problem = fixity.compare(found, req.item.sha256, req.item.size)
    fixity.record(req.item, problem)
    if problem:
        raise ValueError(f"Colorization stopped: the original failed its fixity check. {problem}")


@contextmanager
def _film_original(req) -> Iterator[Path]:
    """A film's original as a local file for its plan, each segment and the join: on remote storage this
    machine's cached copy, downloaded once per film (workers/cache.py); a download that is not the original
    accepted at upload fails the fixity check, as in `_verified_original`."""
    with ExitStack() as stack:
        try:  # only the download: an error in the caller's block passes through untouched
            src = stack.enter_context(original_copy(req.item.original, req.item.sha256, req.item.size))
        except DigestMismatch as exc:
            _check_fixity(req, (exc.found, exc.size))
            raise  # not reached: the check raises
        yield src


def _hints(document: dict):
    """A stored hints document (portal.jobs.hints.check; a film's by keyframe, each mark then carrying its
    frame) as the library takes it: points, strokes and the colour strength, checked again by the same rule
    (HintError names the point or stroke)."""
    from colorization.hints import Hints, parse

    return parse(document, "colour hints") if document else Hints()


def _provenance(
    req, context: dict, written: dict, source_sha256: str, hint_context: dict | None = None
) -> dict:
    """What the staff page shows about a result: the model as the pipeline that ran names it (the file itself
    carries its own XMP or container record)."""
    record = {
        "model": context.get("model") or req.model.name,
        "model_version": context.get("model_version", ""),
        "checkpoint": context.get("model_file", ""),
        "source": req.item.original_name,
        "source_sha256": source_sha256,  # hashed from the bytes the pipeline read
        "preset": req.preset,
        **{k: v for k, v in req.options.items() if k != "hints"},  # the points stay in options
        **(hint_context or {}),
    }
    record.update({k: _jsonable(v) for k, v in written.items() if k not in ("path", "dst")})
    return record


def _rights(req):
    """The item's rights and the institution, as the library writes them into the file (XMP)."""
    from colorization.provenance import Rights

    return Rights(**req.item.file_rights())


def _sign(req, path: Path, original: Path, rights, context: dict) -> dict:
    """A C2PA manifest on the finished file, last of all its metadata, where the institution configured a
    signing key (COLORARCHIVE_C2PA_KEY); what it adds to the provenance record, or nothing. `context`: the
    model as the pipeline named it."""
    if not settings.C2PA_KEY:
        return {}
    from colorization import credentials

    key = credentials.SigningKey(
        Path(settings.C2PA_KEY), Path(settings.C2PA_CERT), settings.C2PA_ALGORITHM, settings.C2PA_TSA_URL
    )
    return credentials.sign(
        path,
        key,
        model=context.get("model") or req.model.name,
        model_version=str(context.get("model_version") or ""),
        rights=rights,
        original=original,
        original_name=req.item.original_name,
    )


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


@shared_task(name="workers.tasks.colorize")
def colorize(request_id: int) -> None:
    """A photo is colorized here; a film is planned into segments, each its own task."""
    from portal.jobs.models import ColorizationRequest

    run_job(ColorizationRequest, request_id, lambda req: _plan_film(req) if req.item.is_film else _photo(req))


def _photo(req) -> None:
    from colorization.api import cached_pipeline  # a warm worker keeps its pipelines and their weights
    from colorization.media.previews import write_preview

    suffix = Path(req.item.original_name).suffix.lower()
    suffix = suffix if suffix in (".jpg", ".jpeg", ".png", ".tif", ".tiff") else ".png"
    pipeline = cached_pipeline(req.preset, **_options(req))
    rights = _rights(req)
    with local_path(req.item.original) as src, scratch() as tmp:
        source_sha256 = _verified_original(req, src)
        hints = _hints(req.options.get("hints"))
        result = pipeline.run(
            src, tmp / _result_name(req, suffix), on_progress=req.set_progress, hints=hints, rights=rights
        )
        dst = Path(result.info["path"])  # the encoder may have fixed the suffix to match the format
        signed = _sign(req, dst, src, rights, pipeline.context())
        preview = tmp / f"{dst.stem}-preview.jpg"
        write_preview(dst, preview, max_side=PREVIEW_SIDE)
        # how many hints the model followed (or ignored) and the strength; the hints are in req.options
        followed = {k: v for k, v in pipeline.hint_context(hints).items() if k != "colour_hint_points"}
        provenance = {**_provenance(req, pipeline.context(), result.info, source_sha256, followed), **signed}
        # the files are stored with the row: a request cancelled meanwhile keeps neither
        req.finish(
            files={"result": dst, "result_preview": preview},
            provenance=provenance,
            frames=result.frames,
            seconds=result.seconds,
        )


def _plan_film(req) -> None:
    from colorization import segments

    with _film_original(req) as src:
        _verified_original(req, src)  # the segments and the join read these same stored bytes
        plan = segments.plan(src, max_frames=settings.SEGMENT_FRAMES)
    for seg in req.plan_segments([part.to_dict() for part in plan]):
        seg.enqueue()


@shared_task(name="workers.tasks.colorize_segment")
def colorize_segment(segment_id: int) -> None:
    from portal.jobs.models import Segment

    seg = run_job(Segment, segment_id, _segment)
    if seg is not None and seg.status == "failed":
        retrying(lambda: seg.request.fail(f"Part {seg.index + 1} of the film failed: {seg.error}"))
    elif seg is not None and seg.status == "done" and retrying(seg.request.queue_join_when_complete):
        # a broker outage here leaves it JOIN_QUEUED with no queued_at: the sweeper sends the join once it is back
        seg.request.enqueue_join()


def _segment(seg) -> None:
    from colorization import segments
    from colorization.api import cached_pipeline
    from portal.jobs.models import JOIN_SHARE, Cancelled, ColorizationRequest, Status

    req = seg.request
    if req.status != Status.RUNNING:  # the request was cancelled or failed meanwhile
        raise Cancelled(f"request {req.pk} is no longer running")

    def on_progress(done: int, total: int | None) -> None:
        before = seg.progress
        seg.set_progress(done, total)  # both raise Cancelled when the segment or its request stopped
        if seg.progress != before:
            ColorizationRequest.update_running(
                req.pk, attempt=req.attempts, progress=JOIN_SHARE * req.segment_progress()
            )

    pipeline = cached_pipeline(req.preset, **_options(req))
    hints = _hints(req.options.get("hints"))  # a film's keyframes document: each mark carries its frame
    with _film_original(req) as src, scratch() as tmp:
        dst = tmp / f"request{req.pk}-part{seg.index:04d}.mp4"
        segments.colorize_segment(src, seg.plan, dst, on_progress=on_progress, pipeline=pipeline, hints=hints)
        # the join (on another queue) records the model as this pipeline names it, and the hints it followed
        context = pipeline.context()
        followed = {k: v for k, v in pipeline.hint_context(hints).items() if k != "colour_hint_points"}
        ColorizationRequest.update_running(
            req.pk, attempt=req.attempts, provenance=_provenance(req, context, {}, req.item.sha256, followed)
        )
        seg.finish(files={"part": dst})  # the part is kept only with its row


@shared_task(name="workers.tasks.join_segments")
def join_segments(request_id: int) -> None:
    from portal.jobs.models import ColorizationRequest

    run_job(ColorizationRequest, request_id, _join, claim=False)  # the request is running: claim its phase


def _join(req) -> dict | None:
    from colorization import segments
    from colorization.media.film_writer import film_xmp, rights_tags
    from colorization.media.previews import write_preview
    from portal.jobs.models import Phase

    if not req.advance_to(Phase.JOINING):
        return None  # duplicate delivery, already joined, or another worker is joining
    parts = list(req.segments.order_by("index"))
    rights = _rights(req)
    # the whole film's XMP, as the segments' pipeline described itself (their record in req.provenance)
    source = {"name": req.item.original_name, "sha256": req.provenance.get("source_sha256", req.item.sha256)}
    xmp = film_xmp(source, {**req.provenance, "rights": rights})
    with _film_original(req) as src, scratch() as tmp, ExitStack() as stack:
        # each part as a file (the stored one, or a download streamed to disk): the join reads them packet
        # by packet, so memory does not grow with the film's length or its number of parts
        paths = [stack.enter_context(local_path(seg.part)) for seg in parts]
        dst = tmp / _result_name(req, ".mp4")
        info = segments.join(paths, src, dst, xmp=xmp, tags=rights_tags(rights))
        info.update(_sign(req, dst, src, rights, req.provenance))
        poster = tmp / f"{dst.stem}-poster.jpg"
        write_preview(dst, poster, max_side=1280)
        provenance = {**req.provenance, **_jsonable(info), "segments": len(parts)}
        provenance.pop("dst", None)
        seconds = sum(((s.finished or s.started) - s.started).total_seconds() for s in parts if s.started)
        frames = sum(seg.end_frame - seg.start_frame for seg in parts)
        files = {"result": dst, "result_preview": poster}
        if not req.finish(files, provenance=provenance, frames=frames, seconds=seconds, phase=Phase.JOINED):
            return None  # cancelled while joining: the result went with the row that did not commit
    for seg in parts:  # the joined film holds everything now; drop the parts
        seg.part.delete(save=True)
    log.info("request %s joined from %d segments", req.pk, len(parts))
    return None


# ---------------------------------------------------------------- catalogue and models
@shared_task(name="workers.tasks.make_previews")
def make_previews(item_id: int) -> None:
    """Thumbnail and web preview of an item (a film's poster frame), its size, length and whether it holds
    colour; a file that cannot be read is recorded as the item's media error, in plain words."""
    from colorization.media.previews import write_preview
    from portal.catalog.models import Item

    # Count the attempt before decoding: a file that kills its worker (out of memory) comes back with
    # acks_late, and after settings.MAX_ATTEMPTS the item says why instead of going round forever.
    counted = (
        Item.objects.filter(pk=item_id, preview="", media_error="")
        .exclude(original="")
        .update(preview_attempts=F("preview_attempts") + 1)
    )
    item = Item.objects.filter(pk=item_id).first()
    if not counted or item is None:
        return  # gone, or made already (the sweeper may send an item twice)
    if item.preview_attempts > settings.MAX_ATTEMPTS:
        item.media_error = (
            f"Making the previews stopped the worker {item.preview_attempts - 1} times (the file may be too "
            "large or damaged); not tried again."
        )
        item.save(update_fields=["media_error"])
        return
    fields = [
        "preview",
        "thumbnail",
        "width",
        "height",
        "frame_count",
        "duration",
        "is_colour",
        "media_error",
    ]
    try:
        with local_path(item.original) as src, scratch() as tmp:
            # The stored file's own name (short enough for any file system, extension kept) rather than its path.
            stored = Path(item.original.name).name
            named = tmp / stored
            os.symlink(src, named)
            preview, thumb = tmp / f"{Path(stored).stem}-preview.jpg", tmp / f"{Path(stored).stem}-thumb.jpg"
            try:
                info = write_preview(named, preview, PREVIEW_SIDE)
            except ValueError as exc:  # the library names the file by its path: say only the original's name
                raise ValueError(
                    str(exc).replace(f"{tmp}{os.sep}", "").replace(stored, item.original_name)
                ) from None
            write_preview(preview, thumb, THUMB_SIDE)
            for key in ("width", "height", "frame_count", "duration", "is_colour"):
                if info.get(key) is not None:
                    setattr(item, key, info[key])
            item.media_error = ""
            # the previews are kept only with the row that names them
            files = {"preview": (preview, preview.name), "thumbnail": (thumb, thumb.name)}
            store_then_save(item, files, save=lambda: item.save(update_fields=fields))
        return
    except Exception as exc:  # recorded on the item (the log has details, the page no paths) unless transient
        if is_disk_full(exc):
            _previews_wait_for_space(item, exc)
            return
        if isinstance(exc, ValueError):
            log.warning("previews for item %s: %s", item_id, exc)
            item.media_error = str(exc)
        else:
            log.exception("previews for item %s failed", item_id)
            item.media_error = f"{item.original_name}: the previews could not be made ({type(exc).__name__})"
    item.save(update_fields=fields)


def _previews_wait_for_space(item, exc: OSError) -> None:
    """A full disk says nothing about the file: the item stays without previews or error, this attempt is not
    counted against it, and the sweeper sends it again (settings.SWEEP_MINUTES) until there is room."""
    from portal.catalog.models import Item

    log.warning("previews for item %s wait for disk space: %s", item.pk, exc)  # store_then_save kept nothing
    Item.objects.filter(pk=item.pk).update(preview_attempts=F("preview_attempts") - 1)


@shared_task(name="workers.tasks.make_tiles")
def make_tiles(item_id: int) -> None:
    """The deep zoom tile pyramids a published photograph lacks (its original, each published colorization);
    a file libvips cannot read is logged and left without one (the page then shows the plain comparison)."""
    from portal.gallery import deepzoom, public_cache

    made = [key for key, field in deepzoom.missing(item_id).items() if _pyramid(key, field)]
    deepzoom.withdraw_unwanted(item_id)  # unpublished while the tiles were being made: none stays
    if made:
        log.info("deep zoom tiles of item %s made: %s", item_id, ", ".join(made))
        public_cache.bump()  # the item page and the manifest now offer them


def _pyramid(identifier: str, field) -> bool:
    from colorization.media.tiles import write_tiles
    from portal.gallery import deepzoom

    try:
        with local_path(field) as src:
            folder = deepzoom.local_folder(identifier)
            if folder is not None:  # written beside its place and renamed in
                write_tiles(src, folder, settings.IIIF_IMAGE_URL)
            else:
                with scratch() as tmp:
                    write_tiles(src, tmp / identifier, settings.IIIF_IMAGE_URL)
                    deepzoom.upload(identifier, tmp / identifier)
        return True
    except (ValueError, OSError) as exc:
        log.warning("deep zoom tiles %s not made: %s", identifier, exc)
        return False


@shared_task(name="workers.tasks.preview_hints")
def preview_hints(preview_id: int) -> None:
    """The hint editor's quick preview (the `preview` queue, so it never waits behind a film)."""
    from portal.jobs.models import HintPreview

    run_job(HintPreview, preview_id, _hint_preview)


def _hint_preview(row) -> dict:
    """The network on a small copy of the item's web preview (a film's: of the row's frame, kept as it is
    too), with the hints; the result kept in the row as a small JPEG."""
    import dataclasses

    from colorization.api import cached_pipeline  # built once per worker process, kept for the next preview
    from colorization.hints import Hints
    from colorization.media.previews import write_preview

    start = time.perf_counter()
    hints = _hints(row.hints)  # points, strokes and strength, as the request will use them
    pipeline = cached_pipeline("photo", model=str(model_checkpoint(row.model)), quality=HINT_PREVIEW_QUALITY)
    with scratch() as tmp:
        small, still = tmp / "input.jpg", b""
        if row.frame is None:
            with local_path(row.item.preview or row.item.original) as src:
                write_preview(src, small, HINT_PREVIEW_INPUT_SIDE)
        else:  # the frame, and the marks placed on it as a photograph's (a photo is frame 0)
            _film_still(row, small)
            still = small.read_bytes()
            hints = Hints(
                *(tuple(dataclasses.replace(m, frame=0) for m in marks if m.frame == row.frame)
                  for marks in (hints.points, hints.strokes)),
                hints.strength,
            )  # fmt: skip
        result = pipeline.run(small, tmp / "preview.jpg", hints=hints)
        image = Path(result.info.get("path") or result.dst).read_bytes()
    note = ""
    if hints and not pipeline.takes_hints():
        note = f"{row.model.name} takes no colour hints: this preview is without them."
    return {"image": image, "still": still, "note": note, "seconds": time.perf_counter() - start}


def _film_still(row, dst: Path) -> None:
    """Frame `row.frame` of the row's film as a JPEG no larger than the quick preview's side, read from this
    machine's copy of the original (`_film_original`, as the segments read it)."""
    from PIL import Image

    from colorization.media.files import atomic_write
    from colorization.media.previews import film_frame

    with _film_original(row) as src:
        image = Image.fromarray(film_frame(src, row.frame), "RGB")
    image.thumbnail((HINT_PREVIEW_INPUT_SIDE, HINT_PREVIEW_INPUT_SIDE))
    atomic_write(dst, lambda fh: image.save(fh, "JPEG", quality=HINT_PREVIEW_QUALITY))


@shared_task(name="workers.tasks.inspect_model")
def inspect_model(model_id: int) -> None:
    """Fill ColorModel.info from its checkpoint, or record why the file is unusable."""
    from colorization.checkpoint import CheckpointError, summary
    from colorization.zoo import headline_metrics
    from portal.jobs.models import ColorModel

    model = ColorModel.objects.filter(pk=model_id).first()
    if model is None:
        return
    promote = bool(model.info.get("promote_when_inspected"))
    try:
        model.info = summary(model_checkpoint(model))
        if not model.metrics and isinstance(model.info.get("metrics"), dict):
            model.metrics = headline_metrics(model.info["metrics"])
    except (CheckpointError, FileNotFoundError, OSError) as exc:
        model.info = {"error": str(exc).splitlines()[0]}
        promote = False  # a file that cannot be read never becomes the default
    model.save(update_fields=["info", "metrics"])
    if promote:
        model.promote()


# ---------------------------------------------------------------- training and bulk actions
@shared_task(name="workers.tasks.train")
def train(run_id: int) -> None:
    from portal.jobs.models import TrainingRun
    from workers import training_runs

    run_job(TrainingRun, run_id, training_runs.run)


@shared_task(name="workers.tasks.bulk_action")
def bulk_action(bulk_id: int) -> None:
    from portal.jobs.models import BulkAction

    run_job(BulkAction, bulk_id, _bulk_action)


def _bulk_action(bulk) -> dict:
    """Apply the action's step to each item in turn (portal/jobs/bulk.py: the code a single page runs); a
    skipped item is reported with its reason, the rest go on. Started over when requeued: each step is
    idempotent."""
    from portal.catalog.models import Item
    from portal.jobs.bulk import REPORT_LIMIT, STEPS
    from portal.jobs.models import BulkAction

    step = STEPS[bulk.action]
    report: list[str] = []
    changed = 0
    items = Item.objects.in_bulk(bulk.items)
    for n, pk in enumerate(bulk.items, start=1):
        item = items.get(pk)
        if item is None:
            reason, title = "deleted meanwhile", f"item {pk}"
        else:
            item._history_user = bulk.requested_by  # the audit trail names who started the action
            reason, title = step(bulk, item), item.title
        if reason:
            report.append(f"{title}: {reason}")
        else:
            changed += 1
        progress = n / len(bulk.items)  # raises Cancelled when the action was cancelled meanwhile:
        BulkAction.update_running(
            bulk.pk, attempt=bulk.attempts, progress=progress, changed=changed, report=report[:REPORT_LIMIT]
        )
    return {"changed": changed, "report": report[:REPORT_LIMIT]}


@shared_task(name="workers.tasks.sweep")
def sweep() -> None:
    """Celery beat runs this every half minute (settings.CELERY_BEAT_SCHEDULE): recovery after outages."""
    from portal.jobs import services

    for line in services.sweep(leftovers=False):
        log.info("sweep: %s", line)


@shared_task(name="workers.tasks.remove_incoming_leftovers")
def remove_incoming_leftovers() -> None:
    """Celery beat runs this hourly: what processes killed while storing left (portal.storage.remove_leftovers)."""
    from portal.storage import remove_leftovers

    remove_leftovers()  # logs what it removed or set aside


@shared_task(name="workers.tasks.fixity_check")
def fixity_check() -> None:
    from portal.catalog.fixity import check_all

    checked, failures = check_all()
    for item, problem in failures:
        log.error("fixity: item %s (%s): %s", item.pk, item.original_name, problem)
    log.info("fixity: %d original(s) checked, %d failed", checked, len(failures))


@shared_task(name="workers.tasks.purge_trash")
def purge_trash() -> None:
    from portal.catalog.trash import purge

    for entry in purge():
        log.info("purged %s", entry)
