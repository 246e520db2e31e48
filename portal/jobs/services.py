"""Submitting work: write the row, enqueue its id once the transaction commits (STYLE.md section 9)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from portal.catalog.models import Item
from portal.jobs.models import ColorizationRequest, ColorModel, Segment, Status, TrainingRun


class SubmitError(ValueError):
    pass


def preset_for(item: Item) -> str:
    return "film" if item.is_film else "photo"


@transaction.atomic
def submit(
    user, item: Item, models: list[ColorModel], options: dict | None = None
) -> list[ColorizationRequest]:
    """One request per chosen model; the preset follows the item's type."""
    from workers import tasks

    if not models:
        raise SubmitError("Choose at least one model.")
    options = dict(options or {})
    if not item.is_film:
        options.pop("smoothing", None)
    created = []
    for model in models:
        if model.info.get("error"):
            raise SubmitError(f"Model {model.name} cannot be used: {model.info['error']}")
        req = ColorizationRequest.objects.create(
            item=item, model=model, preset=preset_for(item), options=options, requested_by=user
        )
        transaction.on_commit(lambda pk=req.pk: tasks.colorize.delay(pk))
        created.append(req)
    return created


@transaction.atomic
def retry(req: ColorizationRequest) -> ColorizationRequest:
    """Run a failed or cancelled request again, as a new request with the same choices."""
    return submit(req.requested_by, req.item, [req.model], req.options)[0]


@transaction.atomic
def start_training(user, name: str, overrides: dict, build_options: dict, config: str = "") -> TrainingRun:
    from workers import tasks

    run = TrainingRun.objects.create(
        requested_by=user, name=name, overrides=overrides, build_options=build_options, config=config
    )
    transaction.on_commit(lambda: tasks.train.delay(run.pk))
    return run


def register_model(name: str, upload, description: str = "", make_default: bool = False) -> ColorModel:
    """Store an uploaded checkpoint and queue its inspection. The model becomes the default (when asked, or when
    there is none) only after the worker has read the file: a broken upload never replaces a working default."""
    from workers import tasks

    promote = make_default or not ColorModel.objects.filter(is_default=True).exists()
    model = ColorModel(
        name=name, description=description, info={"promote_when_inspected": True} if promote else {}
    )
    # the file first, outside any transaction: a 20 MB upload (or an S3 copy) must not hold the write lock
    model.checkpoint.save(upload.name, upload, save=False)
    try:
        with transaction.atomic():
            model.save()
            transaction.on_commit(lambda: tasks.inspect_model.delay(model.pk))
    except BaseException:
        model.checkpoint.delete(save=False)  # nothing half-written is kept
        raise
    return model


def requeue_stale(minutes: int | None = None) -> list[str]:
    """Reset running rows whose worker went silent and enqueue them again; returns what it did."""
    from workers import tasks

    done = []
    with transaction.atomic():
        for seg in Segment.stale(minutes).select_for_update():
            seg.status, seg.progress = Status.PENDING, 0.0
            seg.save(update_fields=["status", "progress", "updated"])
            transaction.on_commit(lambda pk=seg.pk: tasks.colorize_segment.delay(pk))
            done.append(f"segment {seg.index} of request {seg.request_id}")
        for req in ColorizationRequest.stale(minutes).select_for_update():
            if req.phase == "segments":
                continue  # its segments are requeued on their own
            if req.phase in ("joining", "merging"):  # "merging": the worker joining it went silent
                transaction.on_commit(lambda pk=req.pk: tasks.join_segments.delay(pk))
                ColorizationRequest.objects.filter(pk=req.pk).update(phase="joining", updated=timezone.now())
                done.append(f"join of request {req.pk}")
                continue
            req.status, req.progress = Status.PENDING, 0.0
            req.save(update_fields=["status", "progress", "updated"])
            transaction.on_commit(lambda pk=req.pk: tasks.colorize.delay(pk))
            done.append(f"request {req.pk}")
        for run in TrainingRun.stale(minutes).select_for_update():
            run.status, run.progress = Status.PENDING, 0.0
            run.save(update_fields=["status", "progress", "updated"])
            transaction.on_commit(lambda pk=run.pk: tasks.train.delay(pk))
            done.append(f"training run {run.pk}")
    return done
