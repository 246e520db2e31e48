"""On a real worker: a training run with too little material stops before fitting with a plain message, and its
admin finds a notification saying so."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from portal.jobs.models import Notification, Status, TrainingRun
from tests.conftest import make_photo, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_run_short_of_material_fails_in_plain_words_and_notifies_its_admin(
    live_worker, admin_account, tmp_path, settings
):
    admin = Client()
    admin.force_login(admin_account)
    handles = [
        open(make_photo(tmp_path / f"c{i}.png", size=(64 + i, 64), gray=False), "rb") for i in range(3)
    ]
    try:
        admin.post(reverse("jobs:training"), {"form": "source", "source-files": handles})
    finally:
        for h in handles:
            h.close()
    form = {"form": "train", "train-name": "short", "train-epochs": 1, "train-width": 4,
            "train-extra": "batch_size=16\ndevice=cpu\nworkers=0\nthreads=1\nbuild.dedupe_distance=0"}  # fmt: skip
    admin.post(reverse("jobs:training"), form)
    run = TrainingRun.objects.get(name="short")
    run = wait_for(
        lambda: TrainingRun.objects.filter(pk=run.pk, status=Status.FAILED).first(), 120,
        what="the run to fail", log=live_worker.log,
    )  # fmt: skip
    assert run.error.startswith("Not enough training material: the training split has ")
    note = Notification.objects.get(user=admin_account)
    assert note.failed and note.message.startswith(
        f"Training run #{run.pk} (short) failed: Not enough training"
    )
    assert note.url == reverse("jobs:training_run", args=[run.pk])
    assert escape(note.message) in admin.get(reverse("jobs:notifications")).content.decode()
