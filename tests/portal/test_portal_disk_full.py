"""A full disk is an answer, not a crash (RELIABILITY.md): on a real, small file system (a tmpfs, or an ext4
image on a loop device; `small_disk` in tests/conftest.py) filled by the test, staff get 507 with the reason,
nothing half-written is kept, previews wait for space instead of marking the item unreadable, and everything
works again once space is freed.

Each fault runs twice where it can: with the free-space reserve (settings.MIN_FREE_BYTES, 0 here: the write
must fit), which refuses before a byte is written, and with the reserve check let through (a reserve below
zero), which is what happens when other writers fill the disk after the check: the write itself meets ENOSPC.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.files import File
from django.test import Client

from portal.catalog.ingest import add_item
from portal.catalog.models import Item
from portal.jobs import services
from portal.jobs.models import Segment, Status
from tests.support.media import make_film, make_photo
from workers import tasks

pytestmark = pytest.mark.django_db(transaction=True)

CHECKED, LET_THROUGH = 0, -(2**30)  # MIN_FREE_BYTES: the check refuses at once, or lets the write meet ENOSPC


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def _large_photo(path: Path, megabytes: float) -> Path:
    """A real PNG padded past its end to `megabytes` (the sniffing reads the header; the bytes count)."""
    make_photo(path, (400, 300), gray=False)
    path.write_bytes(path.read_bytes() + os.urandom(int(megabytes * 1e6)))
    return path


@pytest.mark.parametrize("reserve", [CHECKED, LET_THROUGH], ids=["refused-before", "enospc-while-writing"])
def test_a_full_upload_spool_answers_507_and_the_next_upload_works(
    staff_user, tmp_path, settings, small_disk, reserve
):
    spool = small_disk("spool", 2048)
    settings.FILE_UPLOAD_TEMP_DIR, settings.FILE_UPLOAD_MAX_MEMORY_SIZE = spool.folder, 64 * 1024
    settings.MIN_FREE_BYTES = reserve
    client = _client(staff_user)
    with open(_large_photo(tmp_path / "too_large_for_the_spool.png", 3), "rb") as f:
        answer = client.post("/catalog/upload/", {"files": [f]})
    assert answer.status_code == 507, answer.content[:300]  # was 500
    assert "storage is full" in answer.content.decode()
    assert spool.files() == []  # was: the partial spool file, held open, so the next upload failed too
    assert Item.objects.count() == 0
    with open(_large_photo(tmp_path / "fits_1923.png", 0.5), "rb") as f:
        later = client.post("/catalog/upload/", {"files": [f]})
    assert later.status_code == 302 and Item.objects.get().original_name == "fits_1923.png"


@pytest.mark.parametrize("reserve", [CHECKED, LET_THROUGH], ids=["refused-before", "enospc-while-writing"])
def test_a_full_media_store_answers_507_keeps_nothing_and_takes_the_file_once_freed(
    staff_user, tmp_path, settings, small_disk, reserve
):
    media = small_disk("media", 4096)
    settings.MEDIA_ROOT, settings.MIN_FREE_BYTES = media.folder, reserve
    client = _client(staff_user)
    photo = _large_photo(tmp_path / "harbour_at_dusk_1911.png", 1)
    media.fill()
    with open(photo, "rb") as f:
        page = client.post("/catalog/upload/", {"files": [f]})
    with open(photo, "rb") as f:
        api = client.post("/api/items/", {"file": f, "title": "Harbour at dusk"})
    assert page.status_code == 507 and "storage is full" in page.content.decode()  # was 500
    assert api.status_code == 507 and "storage is full" in api.json()["detail"]
    assert media.files() == [] and Item.objects.count() == 0  # was: a partial original with no row
    media.free()
    with open(photo, "rb") as f:  # the same file again: not refused as "already in the archive"
        again = client.post("/api/items/", {"file": f, "title": "Harbour at dusk"})
    assert again.status_code == 201, again.content[:300]
    item = Item.objects.get()
    assert Path(item.original.path).read_bytes() == photo.read_bytes()
    originals = {p for p in media.files() if "originals" in p.parts}
    assert originals == {Path(item.original.path)}  # no row without its file, no file without its row


@pytest.mark.django_db  # in the test's transaction, so that sending the work waits for the test to run it
@pytest.mark.parametrize("full", ["media", "scratch"])
def test_previews_on_a_full_disk_wait_and_the_sweeper_makes_them_once_freed(
    staff_user, tmp_path, settings, small_disk, full, django_capture_on_commit_callbacks
):
    disk = small_disk(full, 4096)
    if full == "media":
        settings.MEDIA_ROOT = disk.folder  # the preview's store is refused: too little space for it
    else:
        settings.WORK_DIR = disk.folder  # writing the preview itself meets ENOSPC
    photo = make_photo(tmp_path / "quay_1902.png", (800, 600))
    with django_capture_on_commit_callbacks(execute=False), open(photo, "rb") as f:
        item = add_item(File(f, name=photo.name), user=staff_user)  # the previews are not sent yet
    stored = set(disk.files())
    disk.fill()
    tasks.make_previews(item.pk)
    item.refresh_from_db()
    assert item.media_error == "" and not item.preview  # was: "the previews could not be made (OSError)"
    assert item.preview_attempts == 0  # a full disk is not the file's fault: no attempt used up
    assert set(disk.files()) == stored  # no half-written preview
    disk.free()
    Item.objects.filter(pk=item.pk).update(created=item.created.replace(year=2000))  # waiting past the sweep
    assert f"sent previews of item {item.pk}" in services.sweep()
    item.refresh_from_db()
    assert item.preview and item.thumbnail and item.width == 800 and item.media_error == ""
    item.publish()  # readable, so publishable


@pytest.mark.django_db
def test_a_film_part_on_a_full_media_store_keeps_no_empty_part_and_the_retry_finishes(
    staff_user, tmp_path, settings, small_disk, tiny_model, django_capture_on_commit_callbacks
):
    media = small_disk("media", 8192)
    settings.MEDIA_ROOT, settings.SEGMENT_FRAMES = media.folder, 8
    film = make_film(tmp_path / "tram_1931.mp4")
    with django_capture_on_commit_callbacks(execute=True), open(film, "rb") as f:
        item = add_item(File(f, name=film.name), user=staff_user)
    with django_capture_on_commit_callbacks(execute=True), open(tiny_model, "rb") as f:
        model = services.register_model("tiny", File(f, name="tiny.pt"))
    with django_capture_on_commit_callbacks(execute=False):
        (req,) = services.submit(None, item, [model], {"smoothing": "none"})
    with django_capture_on_commit_callbacks(execute=False):
        tasks.colorize.delay(req.pk)  # planned; the segment tasks are captured, not run
    first = Segment.objects.filter(request=req).order_by("index").first()
    before = set(media.files())
    settings.MIN_FREE_BYTES = LET_THROUGH  # the part's write itself meets ENOSPC
    media.fill()
    tasks.colorize_segment(first.pk)
    first.refresh_from_db()
    req.refresh_from_db()
    assert set(media.files()) == before  # was: a 0-byte part left in the media folder
    assert first.status == Status.FAILED and "storage is full" in first.error
    assert req.status == Status.FAILED and "storage is full" in req.error
    media.free()
    with django_capture_on_commit_callbacks(execute=True):
        again = services.retry(req)
    again.refresh_from_db()
    assert again.status == Status.DONE, again.error
    assert not [p for p in media.files() if p.stat().st_size == 0]


# ---------------------------------------------------------------- /health/


def test_health_reports_each_part_and_answers_503_when_one_is_down(
    tmp_path, settings, small_disk, private_redis
):
    """Every part up (PostgreSQL, its own redis-server as broker and cache, the disks): 200. Then the database
    at a dead port, Redis stopped, the spool full: each reported down, 503. No address, path or error text."""
    from django.db import connection

    from tests.support.services import require_service, spare_port
    from tests.support.worker import app_on_broker

    require_service("postgresql", "the health test checks the database it runs on")
    spool = small_disk("spool", 1024)
    settings.FILE_UPLOAD_TEMP_DIR, settings.MIN_FREE_BYTES = spool.folder, 256 * 1024
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": private_redis.url,
                                   "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}  # fmt: skip
    client = Client(raise_request_exception=False)  # no sign-in: a load balancer's probe
    secrets = [str(private_redis.port), str(spool.folder), str(settings.MEDIA_ROOT),
               connection.settings_dict["NAME"]]  # fmt: skip

    def health() -> tuple[int, dict]:
        answer = client.get("/health/")
        assert answer["Content-Type"] == "application/json" and "no-cache" in answer["Cache-Control"]
        assert not [s for s in secrets if s in answer.content.decode()]
        return answer.status_code, answer.json()

    def down(checks: dict) -> set[str]:
        return {name for name, part in checks.items() if not part["ok"]}

    with app_on_broker(private_redis.url):
        status, up = health()
        assert status == 200 and up["status"] == "ok" and down(up["checks"]) == set(), up
        assert up["checks"]["spool_disk"]["free_mb"] >= 0 and "free_mb" in up["checks"]["media_disk"]

        port = connection.settings_dict["PORT"]
        connection.close()
        connection.settings_dict["PORT"] = str(spare_port())  # nothing listens there
        try:
            status, no_database = health()
        finally:
            connection.close()
            connection.settings_dict["PORT"] = port
        assert (
            status == 503 and no_database["status"] == "down" and down(no_database["checks"]) == {"database"}
        )

        private_redis.stop()
        status, no_redis = health()
        assert status == 503 and down(no_redis["checks"]) == {"broker", "cache"}, no_redis
        private_redis.start()

        spool.fill()
        status, full = health()
        assert status == 503 and down(full["checks"]) == {"spool_disk"}, full
        spool.free()
        assert health()[0] == 200
