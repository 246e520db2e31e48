"""Each job model owns its life (portal/jobs/models.py): recovery loops over `job_models()` and each row's own
`requeue`, and each model's task reaches its queue by name. Parametrized over the job models, so a new one is
covered here or the test says what it lacks."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from portal.catalog.models import Item
from portal.jobs import services
from portal.jobs.models import (
    BulkAction,
    ColorizationRequest,
    ColorModel,
    HintPreview,
    Job,
    Segment,
    Status,
    TrainingRun,
    job_models,
)
from tests.support.services import require_service
from tests.support.worker import app_on_broker

pytestmark = pytest.mark.django_db


def _request() -> ColorizationRequest:
    item = Item.objects.create(title="Quay", sha256="a" * 64, original_name="quay.png")
    model = ColorModel.objects.get_or_create(name="unet", defaults={"checkpoint": "models/a.pt"})[0]
    return ColorizationRequest.objects.create(item=item, model=model, preset="photo")


# one new row of each job model (a new job model adds its row here)
NEW_ROW = {
    ColorizationRequest: _request,
    Segment: lambda: Segment.objects.create(request=_request(), index=0, start_frame=0, end_frame=8),
    TrainingRun: lambda: TrainingRun.objects.create(name="unet-v2"),
    BulkAction: lambda: BulkAction.objects.create(action=BulkAction.Action.PUBLISH, items=[1]),
    HintPreview: lambda: HintPreview.objects.create(item=_request().item, model=ColorModel.objects.get()),
}
QUEUE = {"workers.tasks.colorize": "gpu", "workers.tasks.colorize_segment": "gpu", "workers.tasks.train": "gpu",
         "workers.tasks.preview_hints": "preview", "workers.tasks.bulk_action": "cpu"}  # fmt: skip


def _lost(model: type[Job], attempts: int) -> Job:
    """A row of `model` whose worker went silent an hour ago, in its attempt `attempts`."""
    row = NEW_ROW[model]()
    model.objects.filter(pk=row.pk).update(
        status=Status.RUNNING, attempts=attempts, updated=timezone.now() - timedelta(hours=1)
    )
    return row


def test_every_job_model_is_recovered():
    assert set(job_models()) == set(NEW_ROW), "a job model without a row here (or a row for no job model)"
    assert job_models().index(Segment) < job_models().index(
        ColorizationRequest
    )  # the order workers lock them


@pytest.mark.parametrize("model", job_models(), ids=lambda m: m.__name__)
def test_a_lost_workers_job_goes_back_to_its_own_queue(model, django_capture_on_commit_callbacks):
    require_service("redis", "the messages are read back from the queue")
    import redis

    row = _lost(model, attempts=1)
    prefix = f"colorarchive-test-life-{os.getpid()}:"
    server = redis.Redis(host="127.0.0.1", port=6379, db=15)
    try:
        with app_on_broker("redis://127.0.0.1:6379/15", prefix):
            with django_capture_on_commit_callbacks(execute=True):
                done = services.requeue_stale(30)
            queued = [
                (queue, json.loads(raw)) for queue in ("gpu", "cpu", "preview")
                for raw in server.lrange(f"{prefix}{queue}", 0, -1)
            ]  # fmt: skip
    finally:
        for key in server.scan_iter(f"{prefix}*"):
            server.delete(key)
    assert done == [row.label]
    row.refresh_from_db()
    assert row.status == Status.PENDING and row.queued_at is not None and row.heartbeat is None
    assert row.error == f"Worker lost, requeued (attempt 1 of {settings.MAX_ATTEMPTS} used)."
    assert [(q, m["headers"]["task"], m["headers"]["argsrepr"]) for q, m in queued] == [
        (QUEUE[model.task_name], model.task_name, f"({row.pk},)")
    ]


@pytest.mark.parametrize("model", job_models(), ids=lambda m: m.__name__)
def test_a_job_lost_on_each_attempt_fails_with_the_reason(model, django_capture_on_commit_callbacks):
    row = _lost(model, attempts=settings.MAX_ATTEMPTS)
    with django_capture_on_commit_callbacks(execute=False) as sent:
        done = services.requeue_stale(30)
    row.refresh_from_db()
    assert row.status == Status.FAILED and not sent
    assert row.error.startswith(f"The worker stopped {settings.MAX_ATTEMPTS} times")
    assert done == [f"{row.label} failed: {row.error}"]
    if model is Segment:  # a part given up fails its film
        assert row.request.status == Status.FAILED and row.request.error.startswith(
            "Part 1 of the film failed"
        )
