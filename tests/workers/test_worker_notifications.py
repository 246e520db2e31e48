"""On a real worker: a training run with too little material stops before fitting with a plain message, and its
admin finds a notification saying so; a film cancelled by someone else while a worker colorizes it tells its
requester, in the portal and by mail, once."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from portal.catalog.models import Item
from portal.jobs.models import ColorizationRequest, ColorModel, Notification, Status, TrainingRun
from tests.support.media import make_film, make_photo
from tests.support.services import wait_for

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


def test_a_film_cancelled_by_an_admin_while_it_runs_notifies_its_requester_once(
    live_worker, staff_user, admin_account, tiny_model, tmp_path, settings
):
    settings.MAIL_CONFIGURED = True
    staff, admin = Client(), Client()
    staff.force_login(staff_user)
    admin.force_login(admin_account)
    with open(tiny_model, "rb") as f:
        admin.post(reverse("jobs:training"), {"form": "model", "model-name": "tiny-note", "model-checkpoint": f,
                                              "model-make_default": "on"})  # fmt: skip
    model = ColorModel.objects.get(name="tiny-note")
    wait_for(
        lambda: ColorModel.objects.get(pk=model.pk).info, 60, what="model inspection", log=live_worker.log
    )
    film = make_film(tmp_path / "reel.mp4", frames=48, size=(480, 360), gop=8)  # 6 segments of 8 frames
    with open(film, "rb") as f:
        staff.post(reverse("catalog:upload"), {"files": [f]})
    item = Item.objects.get(original_name=film.name)
    staff.post(reverse("jobs:submit", args=[item.pk]), {"models": [model.pk]})
    req = ColorizationRequest.objects.get(item=item)
    running = wait_for(
        lambda: req.segments.filter(status=Status.RUNNING, progress__gt=0).first(),
        240,
        interval=0.05,
        what="a segment under way",
        log=live_worker.log,
    )
    admin.post(reverse("jobs:request_action", args=[req.pk, "cancel"]))
    wait_for(
        lambda: f"Segment {running.pk} stopped" in live_worker.log.read_text(),
        60,
        what="the worker to stop the segment",
        log=live_worker.log,
    )
    req.refresh_from_db()
    assert req.status == Status.CANCELLED
    note = Notification.objects.get(user=staff_user)  # one, though the worker stopped its segment after
    assert note.message == f"Colorization of “{item.title}” with tiny-note was cancelled by director."
    assert note.url == req.get_absolute_url() and not note.failed
    assert [m.to for m in mail.outbox] == [[staff_user.email]] and note.message in mail.outbox[0].subject
    assert escape(note.message) in staff.get(reverse("jobs:notifications")).content.decode()
    assert not Notification.objects.filter(user=admin_account).exists()
