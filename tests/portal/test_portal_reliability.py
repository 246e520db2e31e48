"""Nothing lost, nothing stuck (RELIABILITY.md), eagerly: lost workers, attempt limits, idempotent submissions,
fixity. The outage paths with a real broker and worker are in tests/workers/test_worker_outages.py."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files import File
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from portal.catalog.ingest import add_item
from portal.catalog.models import Item
from portal.jobs import services
from portal.jobs.models import Cancelled, ColorizationRequest, Phase, Status
from tests.support.media import make_photo
from workers import tasks
from workers.runner import run_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def photo_item(photo_file, staff_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), open(photo_file, "rb") as f:
        return add_item(File(f, name=photo_file.name), user=staff_user, title="Harbour")


def _output(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=out, **options)
    return out.getvalue()


# ---------------------------------------------------------------- lost workers


def test_a_job_whose_worker_died_says_worker_lost_requeued(photo_item, model_row):
    (req,) = services.submit(None, photo_item, [model_row])  # on_commit never fires: nothing runs it
    ColorizationRequest.claim(req.pk)  # a worker took it ... and died just now
    assert "request" not in _output("requeue_stale")  # the default waits 30 minutes of silence
    assert f"request {req.pk}" in _output("requeue_stale", minutes=0)  # 0 means 0, not the default
    req.refresh_from_db()
    assert req.status == Status.PENDING and req.error.startswith("Worker lost, requeued")
    assert req.queued_at is None  # left for the sweeper when its message cannot go out


def test_a_worker_that_lost_its_job_to_a_requeue_writes_nothing_to_the_next_attempt(photo_item, model_row):
    (req,) = services.submit(None, photo_item, [model_row])
    old = ColorizationRequest.claim(req.pk)  # attempt 1: its worker stalls, silent
    ColorizationRequest.objects.filter(pk=req.pk).update(updated=timezone.now() - timedelta(hours=1))
    services.requeue_stale()
    new = ColorizationRequest.claim(req.pk)  # attempt 2, on another worker
    new.set_progress(30, 100)
    with pytest.raises(Cancelled):  # the stalled worker wakes up: stopped at its next progress write
        old.set_progress(90, 100)
    assert not old.finish(provenance={"attempt": 1})
    old.fail("a late error from attempt 1")
    req.refresh_from_db()
    assert (req.status, req.attempts, req.progress, req.error, req.provenance) == (
        Status.RUNNING,
        2,
        0.3,
        "",
        {},
    )
    assert new.finish(provenance={"attempt": 2})
    req.refresh_from_db()
    assert req.status == Status.DONE and req.provenance == {"attempt": 2}


def test_a_stalled_worker_stopped_by_the_next_attempt_leaves_it_running(photo_item, model_row):
    """The runner's side: the old attempt's body stops (Cancelled) and cancels nothing; the new attempt runs on."""
    (req,) = services.submit(None, photo_item, [model_row])

    def stalled_body(job):
        ColorizationRequest.objects.filter(pk=job.pk).update(updated=timezone.now() - timedelta(hours=1))
        services.requeue_stale()  # the sweeper gives up on this worker ...
        ColorizationRequest.claim(job.pk)  # ... and another worker takes the job
        job.set_progress(50, 100)  # raises Cancelled
        return {"frames": 1}

    run_job(ColorizationRequest, req.pk, stalled_body)
    req.refresh_from_db()
    assert (req.status, req.attempts, req.progress, req.frames) == (Status.RUNNING, 2, 0.0, None)


def test_a_job_that_keeps_killing_its_worker_fails_with_the_reason(
    photo_item, model_row, settings, django_capture_on_commit_callbacks
):
    (req,) = services.submit(None, photo_item, [model_row])
    for _ in range(settings.MAX_ATTEMPTS):
        assert ColorizationRequest.claim(req.pk) is not None  # taken, then the worker is killed again
        ColorizationRequest.objects.filter(pk=req.pk).update(updated=timezone.now() - timedelta(hours=1))
        services.requeue_stale()
    req.refresh_from_db()
    assert req.status == Status.FAILED and req.attempts == settings.MAX_ATTEMPTS
    assert f"stopped {settings.MAX_ATTEMPTS} times" in req.error


def test_a_film_whose_join_was_never_queued_is_joined_by_the_sweeper(
    staff_user, film_file, model_row, django_capture_on_commit_callbacks
):
    with open(film_file, "rb") as f:
        item = add_item(File(f, name=film_file.name), user=staff_user)
    (req,) = services.submit(None, item, [model_row])
    req = ColorizationRequest.claim(req.pk)
    parts = [{"index": n, "start_frame": 10 * n, "end_frame": 10 * n + 10} for n in range(2)]
    req.plan_segments(
        parts
    )  # each part done, and the worker of the last one stopped before queueing the join
    req.segments.update(status=Status.DONE)
    ColorizationRequest.objects.filter(pk=req.pk).update(updated=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks() as sent:
        assert services.requeue_stale() == [f"join of request {req.pk}"]
    req.refresh_from_db()
    assert req.phase == Phase.JOIN_QUEUED and req.status == Status.RUNNING and len(sent) == 1


def test_previews_that_keep_killing_their_worker_stop_with_the_reason(staff_user, tmp_path, settings):
    photo = make_photo(tmp_path / "bomb_like.png")
    with open(photo, "rb") as f:  # on_commit does not run: the previews are not made
        item = add_item(File(f, name=photo.name), user=staff_user)
    # each delivery is counted before decoding; a worker killed mid-decode leaves the count behind
    Item.objects.filter(pk=item.pk).update(preview_attempts=settings.MAX_ATTEMPTS)
    tasks.make_previews.delay(item.pk)  # the broker hands the message back once more (acks_late)
    item.refresh_from_db()
    assert not item.preview and "stopped the worker" in item.media_error
    assert item.preview_attempts == settings.MAX_ATTEMPTS + 1


def test_the_sweeper_sends_what_never_reached_the_broker(
    staff_user, tmp_path, model_row, django_capture_on_commit_callbacks
):
    photo = make_photo(tmp_path / "lost_message.png")
    with open(photo, "rb") as f:
        item = add_item(File(f, name=photo.name), user=staff_user)  # commit callbacks dropped: never sent
    (req,) = services.submit(None, item, [model_row])
    assert req.queued_at is None and not item.preview
    with django_capture_on_commit_callbacks(execute=True):
        done = services.sweep(minutes=0)
    assert f"sent colorization request {req.pk}" in done and f"sent previews of item {item.pk}" in done
    req.refresh_from_db()
    item.refresh_from_db()
    assert req.status == Status.DONE and item.preview
    assert services.sweep(minutes=0) == []  # nothing left: a second run sends nothing


# ---------------------------------------------------------------- idempotent submissions


def test_a_double_click_returns_the_waiting_request(staff_client, photo_item, model_row):
    for _ in range(2):
        staff_client.post(reverse("jobs:submit", args=[photo_item.pk]), {"models": [model_row.pk]})
    assert ColorizationRequest.objects.count() == 1
    (again,) = services.submit(None, photo_item, [model_row])
    assert again.pk == ColorizationRequest.objects.get().pk
    (other_options,) = services.submit(None, photo_item, [model_row], {"quality": 80})
    assert other_options.pk != again.pk  # different options are a different request


def test_a_list_naming_a_model_twice_is_refused(staff_client, photo_item, model_row):
    response = staff_client.post(
        "/api/requests/", {"item": photo_item.pk, "models": ["tiny"] * 50}, "application/json"
    )
    assert response.status_code == 400 and "more than once: tiny" in response.content.decode()
    assert not ColorizationRequest.objects.exists()


def test_retry_applies_to_failed_or_cancelled_requests_only(staff_client, photo_item, model_row):
    (req,) = services.submit(None, photo_item, [model_row])
    response = staff_client.post(reverse("jobs:request_action", args=[req.pk, "retry"]), follow=True)
    assert "Only a failed or cancelled request can be retried" in response.content.decode()
    assert ColorizationRequest.objects.count() == 1
    req.cancel()
    staff_client.post(reverse("jobs:request_action", args=[req.pk, "retry"]))
    assert ColorizationRequest.objects.filter(status=Status.PENDING).count() == 1


# ---------------------------------------------------------------- fixity


def _flip_a_bit(item: Item) -> None:
    path = item.original.path
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0x01
    open(path, "wb").write(bytes(data))


def test_fixity_is_recorded_at_upload_and_checked_on_schedule(photo_item, admin_client):
    assert photo_item.fixity_checked is not None and photo_item.fixity_error == ""
    assert "1 original(s) checked, 0 failed" in _output("fixity_check")
    _flip_a_bit(photo_item)
    with pytest.raises(CommandError, match="1 original"):
        call_command("fixity_check", stdout=io.StringIO(), stderr=io.StringIO())
    photo_item.refresh_from_db()
    assert "SHA-256" in photo_item.fixity_error
    listing = admin_client.get("/admin/catalog/item/?fixity=failed").content.decode()
    assert photo_item.title in listing  # admins find it
    assert (
        "Fixity check failed"
        in admin_client.get(reverse("catalog:item", args=[photo_item.pk])).content.decode()
    )


def test_a_changed_original_is_never_colorized(photo_item, model_row, django_capture_on_commit_callbacks):
    _flip_a_bit(photo_item)  # changed after the last check: the worker's own check catches it
    with django_capture_on_commit_callbacks(execute=True):
        (req,) = services.submit(None, photo_item, [model_row])
    req.refresh_from_db()
    assert req.status == Status.FAILED and "fixity check" in req.error and not req.result
    photo_item.refresh_from_db()
    assert photo_item.fixity_error  # marked for the admins
    with pytest.raises(services.SubmitError, match="fixity"):
        services.submit(None, photo_item, [model_row])  # and refused up front from now on


def test_provenance_records_the_hash_of_the_bytes_colorized(
    photo_item, model_row, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        (req,) = services.submit(None, photo_item, [model_row])
    req.refresh_from_db()
    assert req.status == Status.DONE and req.provenance["source_sha256"] == photo_item.sha256


# ---------------------------------------------------------------- database outage


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_database_answers_503_and_keeps_no_file(staff_user, tmp_path, settings):
    from django.db import connection
    from django.test import Client

    from tests.support.services import spare_port

    client = Client(raise_request_exception=False)
    client.force_login(staff_user)
    photo = make_photo(tmp_path / "during_the_outage_1899.png")
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(spare_port())  # nothing listens there: the database is "down"
    try:
        with open(photo, "rb") as f:
            upload = client.post(reverse("catalog:upload"), {"files": [f]})
        api = client.get("/api/items/")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port
    assert upload.status_code == 503 and upload["Retry-After"] == "60"
    assert "cannot reach its database" in upload.content.decode()
    assert api.status_code == 503 and "database" in api.json()["detail"]
    assert not list(Path(settings.MEDIA_ROOT).rglob(photo.name))  # nothing half-written kept
    assert Item.objects.count() == 0
