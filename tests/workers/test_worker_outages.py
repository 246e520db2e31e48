"""Outages against the real parts: a private Redis (stopped and started by the test), PostgreSQL and a real
`celery worker` process. Nothing accepted is lost and no work is forgotten: every answer during the outage
is a clear one (never a 500), and once the broker is back the sweeper gets every job and preview done.
"""

from __future__ import annotations

import io
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from portal.broker import QUEUE_DOWN_MESSAGE
from portal.catalog.models import Item
from portal.jobs.models import ACTIVE, ColorizationRequest, ColorModel, Segment, Status
from tests.support.media import make_film, make_photo
from tests.support.services import require_service, wait_for
from tests.support.worker import app_on_broker, celery_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _login(user) -> Client:
    client = Client(raise_request_exception=False)  # a server error must show as a 500 answer, not a raise
    client.force_login(user)
    return client


def _said(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def _all_finished() -> bool:
    return not ColorizationRequest.objects.filter(status__in=[Status.PENDING, Status.RUNNING]).exists()


@pytest.fixture
def outage_worker(private_redis, tmp_path, django_db_setup):
    require_service("postgresql", "fault tests share the test database with a worker")
    with (
        app_on_broker(private_redis.url),
        celery_worker(private_redis.url, "", tmp_path / "w.log", "outage") as w,
    ):
        yield w


def test_a_broker_outage_loses_nothing_and_the_sweeper_finishes_the_work(
    private_redis, outage_worker, staff_user, admin_account, tiny_model, tmp_path
):
    log = outage_worker.log
    staff, admin = _login(staff_user), _login(admin_account)
    with open(tiny_model, "rb") as f:
        admin.post(reverse("jobs:training"), {"form": "model", "model-name": "tiny", "model-checkpoint": f})
    model = wait_for(lambda: ColorModel.objects.filter(name="tiny").exclude(info={}).first(), 60, log=log)
    photo = make_photo(tmp_path / "pier_1908.png", size=(120, 90))
    film = make_film(tmp_path / "parade_1931.mp4", frames=24, gop=4)
    for path in (photo, film):
        with open(path, "rb") as f:
            assert staff.post(reverse("catalog:upload"), {"files": [f]}).status_code == 302
    wait_for(lambda: not Item.objects.filter(preview="").exists(), 60, what="previews", log=log)
    photo_item, film_item = (
        Item.objects.get(original_name=photo.name),
        Item.objects.get(original_name=film.name),
    )

    # The film is being colorized (segments on the queue) when the broker goes away.
    staff.post(reverse("jobs:submit", args=[film_item.pk]), {"models": [model.pk], "smoothing": "ema"})
    film_req = ColorizationRequest.objects.get(item=film_item)
    wait_for(lambda: Segment.objects.filter(request=film_req).exists(), 120, what="film segments", log=log)
    private_redis.stop()

    answers = []
    late = make_photo(tmp_path / "late_arrival_1950.png", size=(100, 80))
    with open(late, "rb") as f:  # an upload: the original is kept, previews wait for the queue
        answers.append(staff.post(reverse("catalog:upload"), {"files": [f]}))
    late_item = Item.objects.get(original_name=late.name)
    assert late_item.original.storage.exists(late_item.original.name) and QUEUE_DOWN_MESSAGE in _said(
        answers[-1]
    )
    with open(late, "rb") as f:  # the same file again is refused because the first one is kept, not lost
        answers.append(staff.post(reverse("catalog:upload"), {"files": [f]}))
    assert "already in the archive" in _said(answers[-1])

    answers.append(staff.post(reverse("jobs:submit", args=[photo_item.pk]), {"models": [model.pk]}))
    assert QUEUE_DOWN_MESSAGE in _said(answers[-1])
    answers.append(
        staff.post("/api/requests/", {"item": late_item.pk, "models": ["tiny"]}, "application/json")
    )
    assert answers[-1].status_code == 202 and QUEUE_DOWN_MESSAGE in answers[-1]["Warning"]
    cancelled = ColorizationRequest.objects.get(item=late_item)
    staff.post(reverse("jobs:request_action", args=[cancelled.pk, "cancel"]))
    answers.append(staff.post(reverse("jobs:request_action", args=[cancelled.pk, "retry"])))
    assert QUEUE_DOWN_MESSAGE in _said(answers[-1])
    with open(tiny_model, "rb") as f:
        answers.append(
            admin.post(
                reverse("jobs:training"), {"form": "model", "model-name": "tiny-2", "model-checkpoint": f}
            )
        )
    second = ColorModel.objects.get(name="tiny-2")
    assert second.checkpoint.storage.exists(
        second.checkpoint.name
    )  # kept although its inspection could not queue
    assert [a.status_code for a in answers] == [302, 200, 302, 202, 302, 302]  # never a 500

    private_redis.start()  # empty: the messages queued before the outage are gone with it
    never_sent = list(ColorizationRequest.objects.filter(queued_at=None, status=Status.PENDING))
    assert len(never_sent) == 2  # the colorize request and the retry (the API's request was cancelled)
    swept = call_command_output("sweep")  # what the schedule runs: everything that never reached the broker
    assert all(f"colorization request {r.pk}" in swept for r in never_sent)
    assert f"inspection of model {second.pk}" in swept
    call_command_output("sweep", minutes=0)  # the operator's "everything now": also what the restart lost
    wait_for(
        lambda: _all_finished() and not Item.objects.filter(preview="").exists(),
        300,
        what="every job and preview after the outage",
        log=log,
    )
    reqs = ColorizationRequest.objects.all()
    assert {(r.item_id, r.status) for r in reqs} == {
        (film_item.pk, Status.DONE),
        (photo_item.pk, Status.DONE),
        (late_item.pk, Status.DONE),
        (late_item.pk, Status.CANCELLED),
    }, [(r.pk, r.status, r.error) for r in reqs]
    assert ColorizationRequest.objects.get(item=film_item).result
    assert wait_for(
        lambda: ColorModel.objects.get(name="tiny-2").info.get("parameters"), 60, what="inspection", log=log
    )


def call_command_output(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_celery_beat_schedules_the_sweeper_and_the_fixity_check(private_redis, tmp_path):
    """The schedule ships: `celery -A portal beat` (compose's beat service) puts both tasks on the cpu queue."""
    import json
    import os
    import subprocess
    import sys

    import redis

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.test_settings", "COLORARCHIVE_TEST_WORKER": "1",
           "CELERY_BROKER_URL": private_redis.url, "COLORARCHIVE_SWEEP_EVERY_S": "1", "COLORARCHIVE_FIXITY_EVERY_S": "1"}  # fmt: skip
    with open(tmp_path / "beat.log", "wb") as out:
        beat = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "beat",
                "--schedule",
                str(tmp_path / "schedule"),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    queue = redis.Redis.from_url(private_redis.url)

    def sent() -> set[str]:
        return {json.loads(m)["headers"]["task"] for m in queue.lrange("cpu", 0, -1)}

    try:
        names = wait_for(
            lambda: sent() if len(sent()) == 2 else None,
            120,
            what="beat's first messages",
            log=tmp_path / "beat.log",
        )
    finally:
        beat.terminate()
        beat.wait(30)
    assert names == {"workers.tasks.sweep", "workers.tasks.fixity_check"}
    compose = (Path(__file__).parents[2] / "docker" / "compose.yaml").read_text()
    assert '"celery", "-A", "portal", "beat"' in compose


@contextmanager
def database_at(url: str):
    """The test process's default connection reads and writes the database at `url` inside the block."""
    from django.db import connection

    saved = dict(connection.settings_dict)
    address = urlparse(url)
    connection.close()
    connection.settings_dict.update(HOST=address.hostname, PORT=address.port, NAME=address.path.lstrip("/"))
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def test_a_database_outage_loses_no_job(private_redis, private_postgres, tiny_model, tmp_path):
    """PostgreSQL stops for 30 seconds while a worker colorizes a film (segment by segment) and photographs, then
    starts again: the worker waits for it, and every job ends done; none is left running or waiting."""
    from django.contrib.auth import get_user_model
    from django.core.files import File
    from django.db import connection

    from portal.catalog.ingest import add_item
    from portal.jobs import services

    url = private_postgres.copy_database(connection.settings_dict, "outage")
    log = tmp_path / "worker.log"
    with (
        database_at(url),
        app_on_broker(private_redis.url),
        celery_worker(private_redis.url, "", log, "pg-outage", database_url=url) as worker,
    ):
        staff = get_user_model().objects.create_user("keeper")
        with open(tiny_model, "rb") as f:
            model = services.register_model("tiny", File(f, name="tiny.pt"))
        items = []
        for path in (
            make_film(tmp_path / "regatta_1929.mp4", frames=48, gop=8),  # 6 segments
            *(make_photo(tmp_path / f"quay_{n}.png", size=(160 + n, 120)) for n in range(2)),
        ):
            with open(path, "rb") as f:
                items.append(add_item(File(f, name=path.name), user=staff))
        for item in items:
            services.submit(staff, item, [model], {"smoothing": "ema"})
        film = ColorizationRequest.objects.get(item=items[0])
        wait_for(
            lambda: Segment.objects.filter(request=film, status=Status.RUNNING, index__gt=0).exists(),
            120,
            interval=0.05,
            what="the film's segments running",
            log=log,
        )

        private_postgres.stop()  # every connection is cut while a segment runs
        time.sleep(30)
        private_postgres.start()
        connection.close()

        call_command_output(
            "sweep"
        )  # what beat runs every few minutes: sends whatever never reached the broker
        wait_for(
            lambda: _all_finished() and not Segment.objects.filter(status__in=ACTIVE).exists(),
            240,
            what="every job after the database outage",
            log=log,
        )
        assert worker.poll() is None, "the worker died with the database"
        jobs = [*ColorizationRequest.objects.all(), *Segment.objects.all()]
        assert len(jobs) == 3 + 6
        assert {(type(j).__name__, j.status) for j in jobs} == {
            ("ColorizationRequest", Status.DONE),
            ("Segment", Status.DONE),
        }, [(j, j.status, j.error) for j in jobs if j.status != Status.DONE]
        assert all(r.result for r in ColorizationRequest.objects.all())


def test_a_killed_workers_job_is_requeued_and_finished_by_a_new_worker(
    private_redis, staff_user, tiny_model, tmp_path, django_db_setup
):
    """SIGKILL (what the out-of-memory killer sends) to a `celery worker` in the middle of a film segment: the row
    it leaves running is requeued saying so, with the attempt counted, and a new worker finishes the film."""
    from django.core.files import File

    from portal.catalog.ingest import add_item
    from portal.jobs import services

    require_service("postgresql", "fault tests share the test database with a worker")
    with open(tiny_model, "rb") as f:
        model = services.register_model("tiny", File(f, name="tiny.pt"))
    film = make_film(tmp_path / "procession_1925.mp4", frames=32, gop=8)  # 4 segments
    with open(film, "rb") as f:
        item = add_item(File(f, name=film.name), user=staff_user)
    with app_on_broker(private_redis.url):
        with celery_worker(private_redis.url, "", tmp_path / "first.log", "killed") as first:
            (req,) = services.submit(staff_user, item, [model], {"smoothing": "ema"})
            wait_for(
                lambda: Segment.objects.filter(request=req, status=Status.RUNNING).exists(),
                120,
                interval=0.05,
                what="a segment running",
                log=first.log,
            )
            first.kill()
            first.wait(30)
        (seg,) = Segment.objects.filter(request=req, status=Status.RUNNING)  # what the dead worker left
        assert seg.attempts == 1

        lines = call_command_output("requeue_stale", minutes=0)  # what the sweeper does after STALE_MINUTES
        assert f"segment {seg.index} of request {req.pk}" in lines
        seg.refresh_from_db()
        assert seg.status == Status.PENDING
        assert seg.error == "Worker lost, requeued (attempt 1 of 3 used)."

        with celery_worker(private_redis.url, "", tmp_path / "second.log", "heir") as second:
            wait_for(_all_finished, 240, what="the film after the kill", log=second.log)
    req.refresh_from_db()
    seg.refresh_from_db()
    assert req.status == Status.DONE and req.result, (req.status, req.error)
    assert seg.status == Status.DONE and seg.attempts == 2 and not seg.error
    assert "segment" not in call_command_output("requeue_stale", minutes=0)  # nothing left running


def test_a_job_that_killed_its_worker_on_every_attempt_fails_with_the_reason(
    private_redis, staff_user, tiny_model, tmp_path, django_db_setup, settings
):
    """The same segment kills its worker on each of its COLORARCHIVE_MAX_ATTEMPTS (2 here) attempts: the second
    time the sweeper fails it, and the film, with the reason, instead of sending it round again."""
    from django.core.files import File

    from portal.catalog.ingest import add_item
    from portal.jobs import services

    require_service("postgresql", "fault tests share the test database with a worker")
    settings.MAX_ATTEMPTS = 2  # the sweeper's count (it runs in this process)
    with open(tiny_model, "rb") as f:
        model = services.register_model("tiny", File(f, name="tiny.pt"))
    film = make_film(tmp_path / "launch_1936.mp4", frames=16, gop=8)  # 2 segments
    with open(film, "rb") as f:
        item = add_item(File(f, name=film.name), user=staff_user)
    with app_on_broker(private_redis.url):
        (req,) = services.submit(staff_user, item, [model], {"smoothing": "ema"})
        victim = None
        for attempt in (1, 2):
            log = tmp_path / f"worker{attempt}.log"
            with celery_worker(private_redis.url, "", log, f"killed{attempt}") as worker:
                running = Segment.objects.filter(request=req, status=Status.RUNNING, attempts=attempt)
                if victim is not None:
                    running = running.filter(pk=victim.pk)
                victim = wait_for(running.first, 120, interval=0.05, what="the segment running", log=log)
                worker.kill()
                worker.wait(30)
            lines = call_command_output("requeue_stale", minutes=0)
            victim.refresh_from_db()
            assert f"segment {victim.index} of request {req.pk}" in lines
        assert victim.status == Status.FAILED and victim.attempts == 2
        assert victim.error.startswith("The worker stopped 2 times while working on this")
    req.refresh_from_db()
    assert req.status == Status.FAILED
    assert req.error.startswith(f"Part {victim.index + 1} of the film failed: The worker stopped 2 times")
