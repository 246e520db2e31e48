"""Submitting work: write the row, enqueue its id once the transaction commits."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal import broker
from portal.catalog.ingest import PREVIEWS_TASK
from portal.catalog.models import Item
from portal.jobs.models import (
    ACTIVE,
    WORKER_LOST,
    ColorizationRequest,
    ColorModel,
    HintPreview,
    Status,
    TrainingRun,
    job_models,
)
from portal.storage import remove_leftovers, store_then_save


class SubmitError(ValueError):
    pass


def preset_for(item: Item) -> str:
    return "film" if item.is_film else "photo"


@transaction.atomic
def submit(
    user, item: Item, models: list[ColorModel], options: dict | None = None, bulk=None
) -> list[ColorizationRequest]:
    """One request per chosen model; the preset follows the item's type. `options["hints"]`: colour hints
    (the checked hints document, portal.jobs.hints: a film's by keyframe), kept with the request so the result
    can be redone.

    Idempotent: while a request for the same item, model and options is waiting or running, asking again
    returns that request (a double-click or a client's retry creates nothing new). `bulk`: the BulkAction
    that asks (its requester is told once, when all it queued has ended).
    """
    _check_submission(item, models)
    options = _request_options(item, options)
    Item.objects.select_for_update().filter(
        pk=item.pk
    ).first()  # concurrent submissions for one item queue here
    return [_request_for(user, item, model, options, bulk) for model in models]


def _check_submission(item: Item, models: list[ColorModel]) -> None:
    """The models are chosen once each and the item has a sound original to colorize."""
    if not models:
        raise SubmitError("Choose at least one model.")
    names = [m.name for m in models]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SubmitError(f"Each model may be chosen once; named more than once: {', '.join(twice)}.")
    if not item.original:
        raise SubmitError(f"{item.title} has no file yet: attach its original first.")
    if item.fixity_error:
        raise SubmitError(
            f"{item.title} cannot be colorized: its original failed the fixity check. {item.fixity_error}"
        )


def _request_options(item: Item, options: dict | None) -> dict:
    """The options as stored: smoothing only for a film, hints only when given (a film's on frames it has)."""
    options = dict(options or {})
    if not item.is_film:
        options.pop("smoothing", None)
    if not options.get("hints"):
        options.pop("hints", None)
    elif item.is_film:
        _check_frames(item, [int(frame) for frame in options["hints"].get("keyframes") or {}])
    return options


def _request_for(user, item: Item, model: ColorModel, options: dict, bulk) -> ColorizationRequest:
    """The waiting or running request for these choices, or a new one, queued."""
    if model.info.get("error"):
        raise SubmitError(f"Model {model.name} cannot be used: {model.info['error']}")
    active = ColorizationRequest.objects.filter(
        item=item, model=model, options=options, status__in=ACTIVE
    ).first()
    if active is not None:
        return active
    req = ColorizationRequest.objects.create(
        item=item, model=model, preset=preset_for(item), options=options, requested_by=user, bulk=bulk
    )
    req.enqueue()
    return req


@transaction.atomic
def retry(req: ColorizationRequest) -> ColorizationRequest:
    """Run a failed or cancelled request again, as a new request with the same choices."""
    if req.status not in (Status.FAILED, Status.CANCELLED):
        raise SubmitError(
            f"Only a failed or cancelled request can be retried; this one is {req.get_status_display().lower()}."
        )
    return submit(req.requested_by, req.item, [req.model], req.options)[0]


def _check_frames(item: Item, frames: list[int]) -> None:
    """Frames a film's hints or preview name are frames it has (its length as its previews measured it)."""
    if item.frame_count and frames and max(frames) >= item.frame_count:
        raise SubmitError(
            f"Colour hints on frame {max(frames)}: {item.title} has {item.frame_count} frames (0 to "
            f"{item.frame_count - 1})."
        )


@transaction.atomic
def preview_hints(user, item: Item, model: ColorModel, hints: dict, frame: int | None = None) -> HintPreview:
    """Queue the hint editor's quick preview (the row holds the result); the requester's older previews go.
    A film's is of one `frame` (0 when not given), colorized with the marks placed on it."""
    if model.info.get("error"):
        raise SubmitError(f"Model {model.name} cannot be used: {model.info['error']}")
    frame = (frame or 0) if item.is_film else None
    if item.is_film:
        _check_frames(item, [frame, *(int(f) for f in (hints or {}).get("keyframes") or {})])
    cutoff = timezone.now() - timedelta(minutes=HintPreview.KEEP_MINUTES)
    HintPreview.objects.filter(requested_by=user, created__lt=cutoff).delete()
    row = HintPreview.objects.create(item=item, model=model, hints=hints, frame=frame, requested_by=user)
    row.enqueue()
    return row


@transaction.atomic
def start_training(
    user,
    name: str,
    overrides: dict,
    build_options: dict,
    config: str = "",
    start_from: ColorModel | None = None,
) -> TrainingRun:
    """Queue a run; with `start_from`, it fine-tunes that model (training.finetune) instead of a new one."""
    run = TrainingRun.objects.create(
        requested_by=user, name=name, overrides=overrides, build_options=build_options, config=config,
        start_from=start_from,
    )  # fmt: skip
    run.enqueue()
    return run


def register_model(name: str, upload, description: str = "", make_default: bool = False) -> ColorModel:
    """Store an uploaded checkpoint and queue its inspection. The model becomes the default (when asked, or when
    there is none) only after the worker has read the file: a broken upload never replaces a working default."""
    promote = make_default or not ColorModel.objects.filter(is_default=True).exists()
    model = ColorModel(
        name=name, description=description, info={"promote_when_inspected": True} if promote else {}
    )
    store_then_save(model, {"checkpoint": (upload, upload.name)})
    # the row exists now: its file is never deleted here
    broker.send_on_commit(model, model.inspect_task_name)
    return model


def requeue_stale(minutes: int | None = None) -> list[str]:
    """Reset running rows whose worker went silent for `minutes` (0: all of them) and enqueue them again
    (each job model's `requeue`).

    A row whose worker was lost settings.MAX_ATTEMPTS times (a file that makes it run out of memory, say)
    fails with the reason instead of going round forever. Returns what it did.
    """
    done = []
    with transaction.atomic():
        for model in job_models():
            for job in model.stale(minutes).select_for_update():
                if line := job.requeue(WORKER_LOST):
                    done.append(line)
    return done


def sweep(minutes: int | None = None, leftovers: bool = True) -> list[str]:
    """Recovery after an outage: requeue lost workers' jobs, then send every pending job, model inspection and
    missing preview whose message never reached the broker (or was lost with it), and (with `leftovers`) run the
    leftovers pass (portal.storage.remove_leftovers: what processes killed while storing left, older than
    settings.INCOMING_MINUTES whatever `minutes` says, so a live store's file is never taken). Celery beat runs it every half minute without
    `leftovers` (walking the media store is slow on a large archive) and the leftovers pass hourly.

    With the default thresholds a message that did reach the broker but was lost with it (a restart without
    persistence) is sent again after settings.STALE_MINUTES; `minutes=0` sends everything waiting at once
    (running jobs are left alone: requeue_stale --minutes decides about those)."""
    done = requeue_stale()  # always the stale threshold: a running job is only requeued once it went silent
    for model in job_models():
        done += model.send_unsent(minutes)
    uninspected = ColorModel.objects.exclude(info__has_key="parameters").exclude(info__has_key="error")
    for pk in uninspected.values_list("pk", flat=True):
        if broker.send(ColorModel.inspect_task_name, pk):
            done.append(f"sent inspection of model {pk}")
    cutoff = timezone.now() - timedelta(minutes=settings.SWEEP_MINUTES if minutes is None else minutes)
    waiting = Item.objects.filter(preview="", media_error="", created__lte=cutoff).exclude(original="")
    for pk in waiting.values_list("pk", flat=True):
        if broker.send(PREVIEWS_TASK, pk):
            done.append(f"sent previews of item {pk}")
    if leftovers:
        done += remove_leftovers()
    return done
