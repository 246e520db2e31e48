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
    BulkAction,
    ColorizationRequest,
    ColorModel,
    HintPreview,
    Phase,
    Segment,
    Status,
    TrainingRun,
)


class SubmitError(ValueError):
    pass


def preset_for(item: Item) -> str:
    return "film" if item.is_film else "photo"


@transaction.atomic
def submit(
    user, item: Item, models: list[ColorModel], options: dict | None = None, bulk=None
) -> list[ColorizationRequest]:
    """One request per chosen model; the preset follows the item's type. `options["hints"]`: colour hints
    (the checked hints document, portal.jobs.hints) for a photograph, kept with the request so the result can be redone.

    Idempotent: while a request for the same item, model and options is waiting or running, asking again
    returns that request (a double-click or a client's retry creates nothing new). `bulk`: the BulkAction
    that asks (its requester is told once, when all it queued has ended).
    """
    if not models:
        raise SubmitError("Choose at least one model.")
    names = [m.name for m in models]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SubmitError(f"Each model may be chosen once; named more than once: {', '.join(twice)}.")
    if item.fixity_error:
        raise SubmitError(
            f"{item.title} cannot be colorized: its original failed the fixity check. {item.fixity_error}"
        )
    options = dict(options or {})
    if not item.is_film:
        options.pop("smoothing", None)
    if not options.get("hints") or item.is_film:  # hints on film keyframes are not taken (yet)
        options.pop("hints", None)
    Item.objects.select_for_update().filter(
        pk=item.pk
    ).first()  # concurrent submissions for one item queue here
    chosen = []
    for model in models:
        if model.info.get("error"):
            raise SubmitError(f"Model {model.name} cannot be used: {model.info['error']}")
        active = ColorizationRequest.objects.filter(
            item=item, model=model, options=options, status__in=ACTIVE
        ).first()
        if active is not None:
            chosen.append(active)
            continue
        req = ColorizationRequest.objects.create(
            item=item, model=model, preset=preset_for(item), options=options, requested_by=user, bulk=bulk
        )
        broker.send_on_commit(req, req.task_name)
        chosen.append(req)
    return chosen


@transaction.atomic
def retry(req: ColorizationRequest) -> ColorizationRequest:
    """Run a failed or cancelled request again, as a new request with the same choices."""
    if req.status not in (Status.FAILED, Status.CANCELLED):
        raise SubmitError(
            f"Only a failed or cancelled request can be retried; this one is {req.get_status_display().lower()}."
        )
    return submit(req.requested_by, req.item, [req.model], req.options)[0]


@transaction.atomic
def preview_hints(user, item: Item, model: ColorModel, hints: dict) -> HintPreview:
    """Queue the hint editor's quick preview (the row holds the result); the requester's older previews go."""
    if item.is_film:
        raise SubmitError("Colour hints are taken for photographs only.")
    if model.info.get("error"):
        raise SubmitError(f"Model {model.name} cannot be used: {model.info['error']}")
    cutoff = timezone.now() - timedelta(minutes=HintPreview.KEEP_MINUTES)
    HintPreview.objects.filter(requested_by=user, created__lt=cutoff).delete()
    row = HintPreview.objects.create(item=item, model=model, hints=hints, requested_by=user)
    broker.send_on_commit(row, row.task_name)
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
    broker.send_on_commit(run, run.task_name)
    return run


def register_model(name: str, upload, description: str = "", make_default: bool = False) -> ColorModel:
    """Store an uploaded checkpoint and queue its inspection. The model becomes the default (when asked, or when
    there is none) only after the worker has read the file: a broken upload never replaces a working default."""
    promote = make_default or not ColorModel.objects.filter(is_default=True).exists()
    model = ColorModel(
        name=name, description=description, info={"promote_when_inspected": True} if promote else {}
    )
    # the file first, outside any transaction: a 20 MB upload (or an S3 copy) must not hold the write lock
    model.checkpoint.save(upload.name, upload, save=False)
    try:
        with transaction.atomic():
            model.save()
    except BaseException:
        model.checkpoint.delete(save=False)  # the row did not commit: nothing half-written is kept
        raise
    # the row exists now: its file is never deleted here
    broker.send_on_commit(model, model.inspect_task_name)
    return model


WORKER_LOST = "Worker lost"
DATABASE_LOST = "The database connection was lost while this ran"


def requeue_stale(minutes: int | None = None) -> list[str]:
    """Reset running rows whose worker went silent for `minutes` (0: all of them) and enqueue them again.

    A row whose worker was lost settings.MAX_ATTEMPTS times (a file that makes it run out of memory, say)
    fails with the reason instead of going round forever. Returns what it did.
    """
    done = []
    with transaction.atomic():
        for model in (Segment, ColorizationRequest, TrainingRun, BulkAction, HintPreview):
            for job in model.stale(minutes).select_for_update():
                line = requeue(job, WORKER_LOST)
                if line:
                    done.append(line)
    return done


def requeue(job, why: str) -> str | None:
    """Put one running job (its row locked by the caller) back on the queue, its error saying `why`; a job that
    used its settings.MAX_ATTEMPTS fails with the reason instead. Returns what it did (None: nothing)."""
    if isinstance(job, Segment):
        if _give_up(job, why):
            job.request.fail(f"Part {job.index + 1} of the film failed: {job.error}")
            return f"segment {job.index} of request {job.request_id} failed: {job.error}"
        _reset(job, why)
        return f"segment {job.index} of request {job.request_id}"
    if isinstance(job, ColorizationRequest):
        # A film's segments are requeued on their own; its join is queued when the worker of the last segment
        # stopped before queueing it, or queued again when the join was lost.
        if job.phase == Phase.SEGMENTS:
            join = job.queue_join_when_complete()
        else:
            join = job.phase in (Phase.JOIN_QUEUED, Phase.JOINING) and job.requeue_join()
        if join:
            broker.send_on_commit(job, job.join_task_name)
            return f"join of request {job.pk}"
        if job.phase == Phase.SEGMENTS:
            return None
        if _give_up(job, why):
            return f"request {job.pk} failed: {job.error}"
        _reset(job, why)
        return f"request {job.pk}"
    name = job._meta.verbose_name
    if _give_up(job, why):
        return f"{name} {job.pk} failed: {job.error}"
    _reset(job, why)  # a bulk action starts over: each of its steps is idempotent
    return f"{name} {job.pk}"


def _give_up(job, why: str) -> bool:
    """Fail a job that was stopped on each of its allowed attempts; True when it did."""
    if job.attempts < settings.MAX_ATTEMPTS:
        return False
    if why == WORKER_LOST:
        job.fail(
            f"The worker stopped {job.attempts} times while working on this (for example it ran out of memory); "
            "it is not tried again automatically."
        )
    else:
        job.fail(f"{why}, on each of its {job.attempts} attempts; it is not tried again automatically.")
    return True


def _reset(job, why: str) -> None:
    job.status, job.progress, job.queued_at, job.heartbeat = Status.PENDING, 0.0, None, None
    job.error = f"{why}, requeued (attempt {job.attempts} of {settings.MAX_ATTEMPTS} used)."
    job.save(update_fields=["status", "progress", "queued_at", "heartbeat", "error", "updated"])
    broker.send_on_commit(job, job.task_name)


def sweep(minutes: int | None = None) -> list[str]:
    """Recovery after an outage: requeue lost workers' jobs, then send every pending job, model inspection and
    missing preview whose message never reached the broker (or was lost with it). Celery beat runs it.

    With the default thresholds a message that did reach the broker but was lost with it (a restart without
    persistence) is sent again after settings.STALE_MINUTES; `minutes=0` sends everything waiting at once
    (running jobs are left alone: requeue_stale --minutes decides about those)."""
    done = requeue_stale()  # always the stale threshold: a running job is only requeued once it went silent
    for model in (ColorizationRequest, Segment, TrainingRun, BulkAction, HintPreview):
        for pk in model.unsent(minutes).values_list("pk", flat=True):
            if broker.send(model.task_name, pk):
                model.objects.filter(pk=pk).update(queued_at=timezone.now())
                done.append(f"sent {model._meta.verbose_name} {pk}")
    for pk in ColorizationRequest.joins_unsent().values_list("pk", flat=True):
        if broker.send(ColorizationRequest.join_task_name, pk):
            ColorizationRequest.objects.filter(pk=pk, queued_at=None).update(queued_at=timezone.now())
            done.append(f"sent join of request {pk}")
    uninspected = ColorModel.objects.exclude(info__has_key="parameters").exclude(info__has_key="error")
    for pk in uninspected.values_list("pk", flat=True):
        if broker.send(ColorModel.inspect_task_name, pk):
            done.append(f"sent inspection of model {pk}")
    cutoff = timezone.now() - timedelta(minutes=settings.SWEEP_MINUTES if minutes is None else minutes)
    waiting = Item.objects.filter(preview="", media_error="", created__lte=cutoff)
    for pk in waiting.values_list("pk", flat=True):
        if broker.send(PREVIEWS_TASK, pk):
            done.append(f"sent previews of item {pk}")
    return done
