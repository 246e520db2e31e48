"""Cancelling stops the work itself, on a real worker: a training run stops mid-fit and leaves no files, a film
stops at its running segment and its waiting segments never start; deleting a running job cancels it first."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site as admin_site
from django.test import RequestFactory
from django.urls import reverse

from portal.catalog.models import Item
from portal.jobs.models import ColorizationRequest, ColorModel, Notification, Status, TrainingRun
from tests.support.media import make_film
from tests.support.services import wait_for
from tests.support.training_runs import add_training_images, is_training, login, start_long_run
from workers.training_runs import run_dir

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _stopped(log, what: str):
    return lambda: what in log.read_text()


def test_cancelling_a_training_run_stops_fit_and_removes_its_files(live_worker, admin_account, tmp_path):
    admin = login(admin_account)
    add_training_images(admin, tmp_path)
    run = start_long_run(admin, "cancelled-run")
    wait_for(lambda: is_training(run.pk), 300, what="the run to be training", log=live_worker.log)
    assert any(run_dir(run.pk).glob("*.pt"))  # fit has written checkpoints

    response = admin.post(reverse("jobs:training_run_cancel", args=[run.pk]), follow=True)
    assert "cancelled; its worker stops within seconds" in response.content.decode()
    # the worker stops long before its 500 epochs: fit raised from its progress callback
    wait_for(
        _stopped(live_worker.log, f"TrainingRun {run.pk} stopped"),
        120,
        what="fit to stop",
        log=live_worker.log,
    )
    run.refresh_from_db()
    assert run.status == Status.CANCELLED and run.result_model is None
    assert max(p["epoch"] for p in run.curve if p.get("event") == "epoch") < 500
    assert not run_dir(run.pk).exists()  # checkpoints, CSV log and curves: removed by rule
    assert not ColorModel.objects.filter(training_run=run).exists()
    page = admin.get(reverse("jobs:training_run", args=[run.pk])).content.decode()
    assert "Cancelled" in page and 'data-action="cancel"' not in page
    note = Notification.objects.get(user=admin_account)  # in the list; no mail about one's own click
    assert note.message == f"Training run #{run.pk} (cancelled-run) was cancelled." and not note.failed


def test_deleting_a_running_run_in_the_admin_cancels_it_first(live_worker, admin_account, tmp_path):
    admin = login(admin_account)
    add_training_images(admin, tmp_path)
    run = start_long_run(admin, "deleted-run")
    wait_for(lambda: is_training(run.pk), 300, what="the run to be training", log=live_worker.log)

    request = RequestFactory().post("/admin/")
    request.user = admin_account
    admin_site._registry[TrainingRun].delete_model(request, TrainingRun.objects.get(pk=run.pk))
    assert not TrainingRun.objects.filter(pk=run.pk).exists()
    wait_for(
        _stopped(live_worker.log, f"TrainingRun {run.pk} stopped"),
        120,
        what="fit to stop",
        log=live_worker.log,
    )
    assert not run_dir(run.pk).exists()
    assert not ColorModel.objects.filter(name="deleted-run").exists()


def test_cancelling_a_film_stops_its_running_segment_and_skips_the_waiting_ones(
    live_worker, staff_user, admin_account, tiny_model, tmp_path
):
    staff, admin = login(staff_user), login(admin_account)
    with open(tiny_model, "rb") as f:
        admin.post(reverse("jobs:training"), {"form": "model", "model-name": "tiny-film", "model-checkpoint": f,
                                              "model-make_default": "on"})  # fmt: skip
    model = ColorModel.objects.get(name="tiny-film")
    wait_for(
        lambda: ColorModel.objects.get(pk=model.pk).info, 60, what="model inspection", log=live_worker.log
    )
    film = make_film(tmp_path / "long_reel.mp4", frames=48, size=(480, 360), gop=8)  # 6 segments of 8 frames
    with open(film, "rb") as f:
        staff.post(reverse("catalog:upload"), {"files": [f]})
    item = Item.objects.get(original_name=film.name)
    staff.post(reverse("jobs:submit", args=[item.pk]), {"models": [model.pk], "smoothing": "flow"})
    req = ColorizationRequest.objects.get(item=item)

    def segment_under_way():
        return req.segments.filter(status=Status.RUNNING, progress__gt=0, progress__lt=1).first()

    running = wait_for(segment_under_way, 240, interval=0.05, what="a segment under way", log=live_worker.log)
    response = staff.post(reverse("jobs:request_action", args=[req.pk, "cancel"]), follow=True)
    assert "Request cancelled" in response.content.decode()

    wait_for(
        lambda: not req.segments.filter(status__in=[Status.PENDING, Status.RUNNING]).exists(),
        60,
        what="the segments to stop",
        log=live_worker.log,
    )
    wait_for(
        _stopped(live_worker.log, f"Segment {running.pk} stopped"),
        60,
        what="the segment",
        log=live_worker.log,
    )
    running.refresh_from_db()
    assert running.status == Status.CANCELLED and running.progress < 1 and not running.part
    later = req.segments.filter(index__gt=running.index)
    assert later.count() and not later.exclude(status=Status.CANCELLED).exists()
    assert not later.filter(started__isnull=False).exists()  # the waiting segments never started
    req.refresh_from_db()
    assert req.status == Status.CANCELLED and not req.result
