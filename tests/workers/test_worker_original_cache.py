"""A film on remote storage (S3 in production) is downloaded once per worker machine, not once per segment: the
originals cache keeps one copy per film, named by its SHA-256, checks it before each use, stays under its size
bound (least recently used first, never a copy in use) and is shared safely by the worker processes of one
machine."""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import av
import pytest
from django.core.files import File
from django.core.files.storage import InMemoryStorage

from portal.catalog.ingest import add_item
from portal.jobs import services
from portal.jobs.models import Status
from tests.support.media import make_film
from workers.cache import DigestMismatch, FileCache


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Source:
    """Bytes on "remote storage"; counts how often they are read."""

    def __init__(self, data: bytes):
        self.data, self.reads = data, 0
        self.sha256 = digest(data)

    @contextmanager
    def fetch(self):
        self.reads += 1
        yield io.BytesIO(self.data)


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


def test_a_film_is_downloaded_once_for_all_its_uses(tmp_path):
    film = Source(b"film" * 10_000)
    cache = FileCache(tmp_path, max_bytes=1 << 20)
    for _ in range(3):  # the plan, two segments
        with cache.open(film.sha256, ".MP4", film.fetch, size=len(film.data)) as path:
            assert path.read_bytes() == film.data and path.name == f"{film.sha256}.mp4"
    assert film.reads == 1 and entries(tmp_path) == [f"{film.sha256}.mp4"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(path.read_bytes()[:-100]),  # partial: cut short
        lambda path: path.write_bytes(b"X" + path.read_bytes()[1:]),  # corrupted: same size, other bytes
    ],
    ids=["partial", "corrupted"],
)
def test_a_damaged_copy_is_not_used_but_downloaded_again(tmp_path, damage):
    film = Source(os.urandom(50_000))
    cache = FileCache(tmp_path, max_bytes=1 << 20)
    with cache.open(film.sha256, ".mp4", film.fetch) as path:
        pass
    damage(path)
    with cache.open(film.sha256, ".mp4", film.fetch) as again:
        assert again == path and digest(again.read_bytes()) == film.sha256
    assert film.reads == 2 and entries(tmp_path) == [path.name]


def test_a_download_that_is_not_the_named_file_is_refused_and_not_kept(tmp_path):
    film, other = Source(b"the original"), Source(b"something else")
    cache = FileCache(tmp_path, max_bytes=1 << 20)
    with pytest.raises(DigestMismatch) as raised:
        with cache.open(film.sha256, ".mp4", other.fetch):
            pytest.fail("a foreign download was handed out")
    assert raised.value.found == other.sha256 and raised.value.size == len(other.data)
    assert entries(tmp_path) == []  # neither under the entry's name nor as a leftover temporary file


def test_the_cache_stays_under_its_bound_evicting_the_least_recently_used(tmp_path):
    films = [Source(bytes([i]) * 40_000) for i in range(4)]
    cache = FileCache(tmp_path, max_bytes=100_000)  # room for two
    for film in films[:2]:
        with cache.open(film.sha256, ".mp4", film.fetch):
            pass
    with cache.open(films[0].sha256, ".mp4", films[0].fetch):  # used again: films[1] is now the oldest
        pass
    with cache.open(films[2].sha256, ".mp4", films[2].fetch):
        pass
    assert entries(tmp_path) == sorted(f"{films[i].sha256}.mp4" for i in (0, 2))
    # a copy in use is never removed under its reader, even when the bound is exceeded meanwhile
    with cache.open(films[3].sha256, ".mp4", films[3].fetch) as in_use:
        small = FileCache(tmp_path, max_bytes=0)
        small.evict()
        assert entries(tmp_path) == [in_use.name] and in_use.read_bytes() == films[3].data
    assert entries(tmp_path) == [in_use.name]  # the bound is checked by the next user...
    small.evict()
    assert entries(tmp_path) == []  # ...and an unused copy larger than the bound goes
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) == 0
    assert [f.reads for f in films] == [1, 1, 1, 1]


def test_a_leftover_of_an_interrupted_download_is_removed(tmp_path):
    film = Source(b"reel" * 1000)
    leftover = tmp_path / f".{film.sha256}.abc123.part.mp4"  # atomic_path's temporary name
    leftover.write_bytes(b"reel" * 10)
    with FileCache(tmp_path, max_bytes=1 << 20).open(film.sha256, ".mp4", film.fetch):
        pass
    assert entries(tmp_path) == [f"{film.sha256}.mp4"]


def _use(folder: str, data: bytes, log: str, start) -> None:
    """One worker process: waits for the other, then asks the cache for the same film."""
    import time

    @contextmanager
    def fetch():
        with open(log, "a") as f:
            f.write("download\n")
        time.sleep(0.5)  # a slow download: the other worker asks meanwhile
        yield io.BytesIO(data)

    start.wait()
    with FileCache(folder, max_bytes=1 << 20).open(digest(data), ".mp4", fetch) as path:
        assert path.read_bytes() == data


def test_two_worker_processes_share_one_download(tmp_path):
    data, log = os.urandom(100_000), tmp_path / "downloads.txt"
    context = multiprocessing.get_context("fork")
    start = context.Barrier(2)
    workers = [
        context.Process(target=_use, args=(str(tmp_path / "cache"), data, str(log), start)) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0, 0]
    assert log.read_text() == "download\n"  # the second waited for the first copy instead of downloading
    assert entries(tmp_path / "cache") == [f"{digest(data)}.mp4"]


# ---------------------------------------------------------------- the film tasks on remote storage


class RemoteStorage(InMemoryStorage):
    """Storage without local paths, as S3 (the bytes live in this process); counts reads per stored name."""

    reads: Counter = Counter()

    def path(self, name):
        raise NotImplementedError("This backend doesn't support absolute paths.")

    def _relative_path(self, name):  # Django's in-memory storage finds its files through path()
        return os.path.relpath(InMemoryStorage.path(self, name), self.location)

    def _open(self, name, mode="rb"):
        RemoteStorage.reads[name] += 1
        return super()._open(name, mode)


@pytest.fixture
def remote_storage(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": f"{__name__}.RemoteStorage"}}
    settings.WORK_DIR = tmp_path / "work"
    RemoteStorage.reads.clear()
    return tmp_path / "work" / "cache" / "originals"


@pytest.mark.django_db
def test_a_remote_film_is_downloaded_once_for_its_plan_segments_and_join(
    remote_storage, model_row, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.SEGMENT_FRAMES = 8
    path = make_film(tmp_path / "parade.mp4", frames=20, gop=5)
    with django_capture_on_commit_callbacks(execute=True), open(path, "rb") as f:
        item = add_item(File(f, name=path.name), title="Parade")
    RemoteStorage.reads.clear()  # the upload's own read-back and previews are not the film's colorization
    with django_capture_on_commit_callbacks(execute=True):
        (req,) = services.submit(None, item, [model_row], {"smoothing": "ema"})
    req.refresh_from_db()
    assert req.status == Status.DONE, req.error
    assert req.segments.count() >= 3  # 20 frames in parts of at most 8
    assert RemoteStorage.reads[item.original.name] == 1  # was 1 + 4 + 1: the plan, each segment, the join
    assert (
        RemoteStorage.reads[model_row.checkpoint.name] == 0
    )  # the worker's copy (made at registration) serves
    assert entries(remote_storage) == [f"{item.sha256}.mp4"]
    with req.result.open("rb") as f, av.open(f) as container:
        assert sum(1 for _ in container.decode(video=0)) == 20


@pytest.mark.django_db
def test_a_remote_original_that_changed_fails_its_fixity_check(
    remote_storage, model_row, tmp_path, django_capture_on_commit_callbacks
):
    path = make_film(tmp_path / "parade.mp4", frames=10, gop=5)
    with django_capture_on_commit_callbacks(execute=True), open(path, "rb") as f:
        item = add_item(File(f, name=path.name), title="Parade")
    storage = item.original.storage
    storage.delete(item.original.name)
    storage.save(
        item.original.name, File(io.BytesIO(b"not the film" * 100))
    )  # replaced behind the archive's back
    with django_capture_on_commit_callbacks(execute=True):
        (req,) = services.submit(None, item, [model_row], {})
    req.refresh_from_db()
    item.refresh_from_db()
    assert req.status == Status.FAILED and "fixity check" in req.error
    assert "fixity check" not in item.fixity_error and "bytes, not the" in item.fixity_error
    assert entries(remote_storage) == []  # nothing foreign kept in the cache
