"""The portal sends tasks by name (portal/broker.py) and never imports `workers`: each name it sends must be a
task the worker registers, or its messages would wait in the queue for nobody."""

import pytest
from django.apps import apps

from portal.catalog.ingest import PREVIEWS_TASK
from portal.celery import app
from portal.jobs.models import ColorizationRequest, ColorModel, Job

JOB_MODELS = [m for m in apps.get_models() if issubclass(m, Job)]
SENT = sorted(
    {m.task_name for m in JOB_MODELS}
    | {ColorizationRequest.join_task_name, ColorModel.inspect_task_name, PREVIEWS_TASK}
)


def test_every_job_model_names_its_own_task():
    assert len(JOB_MODELS) >= 5
    assert len({m.task_name for m in JOB_MODELS}) == len(JOB_MODELS)


@pytest.mark.parametrize("name", SENT)
def test_each_task_the_portal_sends_is_registered_by_the_worker(name):
    app.loader.import_default_modules()  # what `celery worker` loads (portal/celery.py: include)
    assert name in app.tasks, f"no worker task is named {name}"
