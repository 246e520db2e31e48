"""Scratch files of killed attempts: a worker killed mid-job (SIGKILL, what the out-of-memory killer sends) leaves
its scratch folder behind; the next attempt on the machine removes it, and never a folder a live worker holds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from portal.jobs.models import ColorizationRequest, Segment, Status
from tests.support import ROOT
from tests.support.media import make_film
from tests.support.services import require_service, wait_for
from tests.support.worker import app_on_broker, celery_worker

HOLD = """
import sys, time
from workers.files import scratch
with scratch() as tmp:
    (tmp / "half-written.mp4").write_bytes(b"x" * 1000)
    print(tmp, flush=True)
    time.sleep(600)
"""


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_killed_processs_scratch_folder_is_removed_and_a_live_ones_is_kept(settings, tmp_path):
    """A real process works in a scratch folder: while it lives the folder stays, however old; once it is killed
    the next scratch() removes it."""
    from workers.files import remove_abandoned, scratch, scratch_dir

    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "portal.test_settings",
           "COLORARCHIVE_WORK": str(tmp_path)}  # fmt: skip
    settings.WORK_DIR = tmp_path
    holder = subprocess.Popen([sys.executable, "-c", HOLD], env=env, stdout=subprocess.PIPE, text=True)
    try:
        folder = Path(holder.stdout.readline().strip())
        assert folder.parent == scratch_dir() and (folder / "half-written.mp4").exists()
        _age(folder, 3600)
        assert remove_abandoned(scratch_dir()) == [] and folder.exists()  # its worker is alive
        with scratch() as mine:
            assert folder.exists() and mine != folder
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    with scratch():
        assert not folder.exists()  # the next attempt removed the killed one's leftovers
    assert list(scratch_dir().iterdir()) == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_segment_leaves_no_scratch_files_once_the_segment_is_redone(
    private_redis, staff_user, tiny_model, tmp_path, django_db_setup, settings
):
    """SIGKILL to a `celery worker` while it writes a film part: its scratch folder (the half-written part) stays
    until the requeued segment runs on the machine again, and is gone once the film is done."""
    from django.core.files import File

    from portal.catalog.ingest import add_item
    from portal.jobs import services
    from workers.files import scratch_dir

    require_service("postgresql", "fault tests share the test database with a worker")
    scratch = scratch_dir()
    before = set(scratch.iterdir())
    with open(tiny_model, "rb") as f:
        model = services.register_model("tiny", File(f, name="tiny.pt"))
    film = make_film(tmp_path / "regatta_1931.mp4", frames=32, gop=8)  # 4 segments
    with open(film, "rb") as f:
        item = add_item(File(f, name=film.name), user=staff_user)

    def part_being_written() -> Path | None:
        new = [d for d in scratch.iterdir() if d not in before and d.is_dir()]
        return next(
            (p for d in new for p in d.iterdir() if "-part" in p.name), None
        )  # also its temporary name

    with app_on_broker(private_redis.url):
        with celery_worker(private_redis.url, "", tmp_path / "first.log", "killed") as first:
            (req,) = services.submit(staff_user, item, [model], {"smoothing": "ema"})
            part = wait_for(
                part_being_written, 120, interval=0.02, what="a part being written", log=first.log
            )
            first.kill()
            first.wait(30)
        leftover = part.parent
        assert leftover.exists(), "the killed worker's scratch folder"
        _age(leftover, 600)  # as when the segment is requeued a minute or more later
        assert Segment.objects.filter(request=req, status=Status.RUNNING).exists()
        call_command("requeue_stale", minutes=0)
        with celery_worker(private_redis.url, "", tmp_path / "second.log", "heir") as second:
            wait_for(
                lambda: not ColorizationRequest.objects.filter(pk=req.pk, status__in=[Status.PENDING, Status.RUNNING]).exists(),
                240, what="the film after the kill", log=second.log,
            )  # fmt: skip
    req.refresh_from_db()
    assert req.status == Status.DONE, (req.status, req.error)
    assert not leftover.exists()
    assert set(scratch.iterdir()) - before == set()
