"""A Redis outage (broker and cache in one, as docker/compose.yaml runs it) and lost workers, against the real
parts: a private redis-server the test stops and starts, PostgreSQL and real `celery worker` processes. Every state
a worker records survives the outage, a hint preview asked for meanwhile is sent once Redis is back, and a killed
worker's job is noticed by its silent heartbeat and finished by another worker (RELIABILITY.md)."""

from __future__ import annotations

import io
import time

import pytest
from django.core.files import File
from django.core.management import call_command

from portal.catalog.ingest import add_item
from portal.catalog.models import Item
from portal.jobs import services
from portal.jobs.models import ColorizationRequest, ColorModel, HintPreview, Segment, Status
from tests.support.media import make_film, make_photo
from tests.support.services import RedisServer, require_service, wait_for
from tests.support.worker import app_on_broker, celery_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis(tmp_path, settings, django_db_setup):
    """A private Redis keeping an append-only file (as compose runs it): the portal's broker and its cache."""

    require_service("postgresql", "fault tests share the test database with a worker")
    require_service("redis-server", "fault tests start and stop their own Redis")
    server = RedisServer(tmp_path, persistent=True)
    server.start()
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": server.url}
    }
    with app_on_broker(server.url):
        yield server
    server.stop()


def _worker(redis: RedisServer, tmp_path, name: str):
    """A real worker as production runs it (prefork), using `redis` as its broker and its cache."""
    return celery_worker(
        redis.url, "", tmp_path / f"{name}.log", name, pool="prefork", COLORARCHIVE_TEST_CACHE_URL=redis.url
    )


def _output(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def model(tiny_model):
    """The tiny model, registered as inspected (its inspection would only keep the worker busy)."""
    model = ColorModel(name="tiny", info={"parameters": 1}, is_default=True)
    with open(tiny_model, "rb") as f:
        model.checkpoint.save("tiny.pt", File(f), save=True)
    return model


def _photo_item(tmp_path, user, name: str, size=(96, 72)):
    path = make_photo(tmp_path / name, size=size)
    with open(path, "rb") as f:
        return add_item(File(f, name=path.name), user=user)


def test_a_film_that_finishes_while_redis_is_down_ends_done_once_it_is_back(
    redis, model, staff_user, tmp_path
):
    """Redis stops while a film's last segment is colorized: the segment is recorded done (the public cache's
    bump and the broker's acknowledgement wait for Redis, the database write does not), and the join that could
    not be queued is sent by the sweeper once Redis is back, so the film ends done with its result and poster."""
    film = make_film(tmp_path / "regatta_1929.mp4", frames=8, gop=8)  # one segment (8 frames each in tests)
    with open(film, "rb") as f:
        item = add_item(File(f, name=film.name), user=staff_user)
    with _worker(redis, tmp_path, "finisher") as worker:
        (req,) = services.submit(staff_user, item, [model], {"smoothing": "ema"})
        running = Segment.objects.filter(request=req, status=Status.RUNNING)
        wait_for(running.exists, 180, interval=0.02, what="the segment running", log=worker.log)
        redis.stop()
        assert running.exists(), "the segment ended before Redis stopped"
        wait_for(
            lambda: not Segment.objects.filter(request=req).exclude(status=Status.DONE).exists(),
            300,
            what="the segment recorded done while Redis is down",
            log=worker.log,
        )
        time.sleep(3)  # Redis stays down after the segment ended
        redis.start()
        lines = _output("sweep")  # what beat runs
        assert f"join of request {req.pk}" in lines
        req = wait_for(
            lambda: ColorizationRequest.objects.filter(pk=req.pk, status=Status.DONE).first(),
            240,
            what="the film done",
            log=worker.log,
        )
    assert req.progress == 1.0 and req.result and req.result_preview, (req.status, req.error)
    assert req.result.storage.exists(req.result.name) and req.result.storage.exists(req.result_preview.name)


def test_a_hint_preview_asked_for_while_the_broker_is_down_is_sent_once_it_is_back(
    redis, model, staff_user, tmp_path
):
    item = _photo_item(tmp_path, staff_user, "quay_1911.png")
    with _worker(redis, tmp_path, "previewer") as worker:
        wait_for(lambda: Item.objects.filter(pk=item.pk).exclude(preview="").exists(), 180, log=worker.log)
        redis.stop()
        hints = {"points": [{"x": 0.5, "y": 0.5, "color": "#c04020"}]}
        row = services.preview_hints(staff_user, item, model, hints)
        assert row.queued is False and HintPreview.objects.get(pk=row.pk).queued_at is None
        redis.start()
        assert f"sent hint preview {row.pk}" in _output("sweep")
        row = wait_for(
            lambda: HintPreview.objects.filter(pk=row.pk, status=Status.DONE).first(),
            240,
            what="the hint preview made",
            log=worker.log,
        )
    assert bytes(row.image).startswith(b"\xff\xd8")  # a JPEG


def test_a_killed_worker_is_noticed_by_its_heartbeat_and_another_worker_finishes_its_job(
    redis, model, staff_user, tmp_path
):
    """SIGKILL to a worker mid-segment: with the default thresholds (no --minutes 0) the sweeper notices within
    two minutes that its heartbeat stopped, requeues the segment with the attempt counted, and a new worker
    finishes the film."""
    film = make_film(tmp_path / "procession_1925.mp4", frames=32, gop=8)  # 4 segments
    with open(film, "rb") as f:
        item = add_item(File(f, name=film.name), user=staff_user)
    with _worker(redis, tmp_path, "killed") as first:
        (req,) = services.submit(staff_user, item, [model], {"smoothing": "ema"})
        running = Segment.objects.filter(request=req, status=Status.RUNNING)
        seg = wait_for(running.first, 180, interval=0.02, what="a segment running", log=first.log)
        first.kill()
        first.wait(30)
    assert Segment.objects.get(pk=seg.pk).status == Status.RUNNING  # what the dead worker left

    def requeued() -> bool:
        _output("sweep")  # what beat runs, with the default thresholds
        return Segment.objects.filter(pk=seg.pk, status=Status.PENDING).exists()

    wait_for(requeued, 120, interval=5, what="the lost worker's segment requeued")
    seg.refresh_from_db()
    assert seg.error == "Worker lost, requeued (attempt 1 of 3 used)."
    with _worker(redis, tmp_path, "heir") as second:
        wait_for(
            lambda: ColorizationRequest.objects.filter(pk=req.pk, status=Status.DONE).exists(),
            300,
            what="the film after the kill",
            log=second.log,
        )
    seg.refresh_from_db()
    assert seg.status == Status.DONE and seg.attempts == 2 and not seg.error
