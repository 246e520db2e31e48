"""Task bodies, run eagerly in this process: film segments and joins, duplicates, failures, requeues."""

from __future__ import annotations

import re
from datetime import timedelta

import av
import pytest
from django.core.files import File
from django.utils import timezone

from portal.catalog.ingest import add_item
from portal.jobs import services
from portal.jobs.models import ColorizationRequest, Phase, Segment, Status
from tests.support.media import make_film
from workers import tasks
from workers.runner import plain_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def film_item(tmp_path, django_capture_on_commit_callbacks):
    path = make_film(tmp_path / "parade.mp4", frames=20, gop=5)
    with django_capture_on_commit_callbacks(execute=True), open(path, "rb") as f:
        return add_item(File(f, name=path.name), title="Parade")


def test_film_is_cut_into_segments_colorized_and_joined(
    film_item, model_row, settings, django_capture_on_commit_callbacks
):
    settings.SEGMENT_FRAMES = 8
    with django_capture_on_commit_callbacks(execute=True):
        (req,) = services.submit(None, film_item, [model_row], {"smoothing": "ema"})
    req.refresh_from_db()
    assert req.status == Status.DONE, req.error
    segments = list(req.segments.order_by("index"))
    assert len(segments) >= 2 and [s.start_frame for s in segments][0] == 0 and segments[-1].end_frame == 20
    assert all(not s.part for s in segments)  # parts are deleted once joined
    with av.open(req.result.path) as container:
        assert sum(1 for _ in container.decode(video=0)) == 20
    assert req.phase == Phase.JOINED and req.provenance["segments"] == len(segments)
    assert req.provenance["model"] == "tiny"  # as the pipeline that ran names it


def test_duplicate_segment_and_join_deliveries_change_nothing(
    film_item, model_row, settings, django_capture_on_commit_callbacks
):
    settings.SEGMENT_FRAMES = 8
    with django_capture_on_commit_callbacks(execute=True):
        (req,) = services.submit(None, film_item, [model_row], {"smoothing": "none"})
    req.refresh_from_db()
    before = (req.result.name, req.finished, list(Segment.objects.values_list("finished", flat=True)))
    with django_capture_on_commit_callbacks(execute=True):
        for seg in req.segments.all():
            tasks.colorize_segment.delay(seg.pk)
        tasks.join_segments.delay(req.pk)
        tasks.colorize.delay(req.pk)
    req.refresh_from_db()
    assert (req.result.name, req.finished, list(Segment.objects.values_list("finished", flat=True))) == before


def test_a_failed_segment_fails_the_request_in_plain_words(
    film_item, model_row, settings, django_capture_on_commit_callbacks
):
    (req,) = services.submit(None, film_item, [model_row])
    ColorizationRequest.claim(req.pk)
    seg = Segment.objects.create(
        request=req,
        index=0,
        start_frame=0,
        end_frame=40,
        plan={"index": 0, "start_frame": 0, "end_frame": 40, "total_frames": 40},
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.colorize_segment.delay(seg.pk)  # the plan promises 40 frames; the film has 20
    req.refresh_from_db()
    seg.refresh_from_db()
    assert seg.status == Status.FAILED and req.status == Status.FAILED
    assert req.error.startswith("Part 1 of the film failed:") and "Traceback" not in req.error
    # the file's own name (the store may add a suffix to keep it apart from an earlier file)
    assert re.search(r"parade(_\w+)?\.mp4: segment 0 wrote 20 frames, expected 40", req.error), req.error
    assert str(settings.MEDIA_ROOT) not in req.error and "/originals/" not in req.error, req.error


def test_requeue_stale_resends_only_the_lost_segment(
    film_item, model_row, settings, django_capture_on_commit_callbacks
):
    settings.SEGMENT_FRAMES = 8
    with django_capture_on_commit_callbacks(execute=False):
        (req,) = services.submit(None, film_item, [model_row], {"smoothing": "none"})
    with django_capture_on_commit_callbacks(execute=False):
        tasks.colorize.delay(req.pk)  # plans; the segment tasks it enqueues are captured, not run
    segs = list(Segment.objects.filter(request=req).order_by("index"))
    # Pretend a worker died inside segment 1 an hour ago; the other segments finished.
    Segment.objects.filter(pk=segs[1].pk).update(
        status=Status.RUNNING, updated=timezone.now() - timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        for seg in segs:
            if seg.index != 1:
                tasks.colorize_segment.delay(seg.pk)
    assert ColorizationRequest.objects.get(pk=req.pk).status == Status.RUNNING
    with django_capture_on_commit_callbacks(execute=True):
        done = services.requeue_stale(30)
    assert done == [f"segment 1 of request {req.pk}"]
    req.refresh_from_db()
    assert req.status == Status.DONE and Segment.objects.get(pk=segs[1].pk).attempts == 1


def test_plain_messages_hide_tracebacks():
    assert plain_message(ValueError("scan.tif: not a readable image")) == "scan.tif: not a readable image"
    assert "worker log" in plain_message(ZeroDivisionError("division by zero"))
    assert "out of memory" in plain_message(MemoryError())


def test_a_films_phase_moves_only_forward_and_only_once(
    film_item, model_row, settings, django_capture_on_commit_callbacks
):
    settings.SEGMENT_FRAMES = 8
    with django_capture_on_commit_callbacks(execute=False):
        (req,) = services.submit(None, film_item, [model_row], {"smoothing": "none"})
    with django_capture_on_commit_callbacks(execute=False):
        tasks.colorize.delay(req.pk)  # plans; the segment tasks are captured, not run
    req.refresh_from_db()
    assert req.status == Status.RUNNING and req.phase == Phase.SEGMENTS
    assert not req.advance_to(Phase.JOINING)  # no join before its segments are done
    assert not req.queue_join_when_complete()  # segments still waiting
    Segment.objects.filter(request=req).update(status=Status.DONE)
    assert req.queue_join_when_complete() and not req.queue_join_when_complete()  # exactly one queues it
    assert req.advance_to(Phase.JOINING) and not req.advance_to(Phase.JOINING)  # exactly one joins
    ColorizationRequest.objects.filter(pk=req.pk).update(updated=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert services.requeue_stale(30) == [f"join of request {req.pk}"]  # the joiner went silent
    req.refresh_from_db()
    assert req.phase == Phase.JOIN_QUEUED and len(queued) == 1
    req.cancel()
    assert not req.advance_to(Phase.JOINING)  # a cancelled request moves no further


def test_plain_messages_name_files_without_their_folders():
    error = ValueError(
        "/var/lib/archive/media/items/reel 1923.mp4: contains no video frames (see https://x.org/a/b)"
    )
    assert plain_message(error) == "reel 1923.mp4: contains no video frames (see https://x.org/a/b)"
