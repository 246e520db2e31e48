"""Celery tasks. Each takes ids only, claims its row (a duplicate delivery finds nothing to claim) and hands
the work to a small adapter module; those import the ML libraries inside their functions, so importing
this module (as the web process does, for `.delay`) never loads torch.

Queues: colorize, colorize_segment and train -> "gpu"; previews, model inspection and joins -> "cpu"
(routes in portal/settings.py).
"""

from __future__ import annotations

import logging

from celery import shared_task

from workers.errors import failing_job

log = logging.getLogger("workers")


@shared_task(name="workers.tasks.colorize")
def colorize(request_id: int) -> None:
    """A photo is colorized here; a film is planned into segments, each its own task."""
    from portal.jobs.models import ColorizationRequest
    from workers import colorizing

    req = ColorizationRequest.claim(request_id)
    if req is None:
        return
    with failing_job(req):
        if req.item.is_film:
            colorizing.start_film(req)
        else:
            colorizing.colorize_photo(req)


@shared_task(name="workers.tasks.colorize_segment")
def colorize_segment(segment_id: int) -> None:
    from portal.jobs.models import Segment
    from workers import colorizing

    seg = Segment.claim(segment_id)
    if seg is None:
        return
    with failing_job(seg):
        colorizing.colorize_segment(seg)
    if seg.status == "failed":
        seg.request.fail(f"Part {seg.index + 1} of the film failed: {seg.error}")


@shared_task(name="workers.tasks.join_segments")
def join_segments(request_id: int) -> None:
    from portal.jobs.models import ColorizationRequest
    from workers import colorizing

    req = ColorizationRequest.objects.filter(pk=request_id).first()
    if req is None:
        return
    with failing_job(req):
        colorizing.join_film(req)


@shared_task(name="workers.tasks.make_previews")
def make_previews(item_id: int) -> None:
    from workers import media

    media.make_previews(item_id)


@shared_task(name="workers.tasks.inspect_model")
def inspect_model(model_id: int) -> None:
    from workers import models

    models.inspect(model_id)


@shared_task(name="workers.tasks.train")
def train(run_id: int) -> None:
    from portal.jobs.models import TrainingRun
    from workers import training_runs

    run = TrainingRun.claim(run_id)
    if run is None:
        return
    with failing_job(run):
        training_runs.run(run)


@shared_task(name="workers.tasks.bulk_action")
def bulk_action(bulk_id: int) -> None:
    from portal.jobs import bulk
    from portal.jobs.models import BulkAction

    job = BulkAction.claim(bulk_id)
    if job is None:
        return
    with failing_job(job):
        bulk.run(job)


@shared_task(name="workers.tasks.sweep")
def sweep() -> None:
    """Celery beat runs this every few minutes (settings.CELERY_BEAT_SCHEDULE): recovery after outages."""
    from portal.jobs import services

    for line in services.sweep():
        log.info("sweep: %s", line)


@shared_task(name="workers.tasks.fixity_check")
def fixity_check() -> None:
    from portal.catalog.fixity import check_all

    checked, failures = check_all()
    for item, problem in failures:
        log.error("fixity: item %s (%s): %s", item.pk, item.original_name, problem)
    log.info("fixity: %d original(s) checked, %d failed", checked, len(failures))
