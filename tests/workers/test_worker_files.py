"""The storage bridge: a checkpoint on storage without local paths (S3 in production) is copied once into the
worker's cache, whole and under its final name only; an error in the body of `with local_path(...)` is the
caller's and passes through unchanged."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from django.db import models
from django.db.models.fields.files import FieldFile

from workers.files import cached_copy, local_path


class RemoteFieldFile(FieldFile):
    """A stored file with no local path, as on S3 (Django's in-memory storage holds the bytes)."""

    @property
    def path(self) -> str:
        raise NotImplementedError("This backend doesn't support absolute paths.")


def test_a_remote_file_is_copied_once_into_the_cache(settings, tmp_path):
    settings.WORK_DIR = tmp_path
    storage = InMemoryStorage()
    name = storage.save("models/hinted.pt", ContentFile(b"weights" * 100_000))
    field = RemoteFieldFile(None, models.FileField(storage=storage), name)
    copy = cached_copy(field, "hinted-1.pt")
    assert copy == tmp_path / "cache" / "hinted-1.pt" and copy.read_bytes() == b"weights" * 100_000
    assert [p.name for p in copy.parent.iterdir()] == ["hinted-1.pt"]  # no temporary file left
    storage.delete(name)
    assert cached_copy(field, "hinted-1.pt") == copy  # the cached copy serves; storage is not read again


class BodyError(NotImplementedError):
    """An error raised by the caller's own code inside `with local_path(...)` (NotImplementedError is what
    asking another remote file for its `.path` raises, the very error local_path reads as "remote storage")."""


def test_an_error_in_the_body_propagates_and_no_copy_is_made(settings, tmp_path):
    settings.WORK_DIR = tmp_path / "work"
    storage = FileSystemStorage(location=tmp_path / "media")
    name = storage.save("originals/harbour.png", ContentFile(b"pixels" * 1000))
    field = FieldFile(None, models.FileField(storage=storage), name)
    runs = []
    with pytest.raises(BodyError) as raised:
        with local_path(field) as path:
            runs.append(path)
            raise BodyError("the caller's own error")
    assert str(raised.value) == "the caller's own error"  # the body's error itself, not a wrapper
    assert runs == [tmp_path / "media" / "originals" / "harbour.png"]  # the stored file itself, body ran once
    scratch = tmp_path / "work" / "tmp"
    assert not scratch.exists() or list(scratch.iterdir()) == []  # no fallback download was made


def test_an_error_in_the_body_on_remote_storage_propagates_and_leaves_no_download(settings, tmp_path):
    settings.WORK_DIR = tmp_path
    storage = InMemoryStorage()
    name = storage.save("originals/harbour.png", ContentFile(b"pixels" * 1000))
    field = RemoteFieldFile(None, models.FileField(storage=storage), name)
    runs = []
    with pytest.raises(BodyError):
        with local_path(field) as path:
            # in this attempt's own scratch folder (workers.files.scratch)
            assert path.read_bytes() == b"pixels" * 1000 and path.parent.parent == tmp_path / "tmp"
            runs.append(path)
            raise BodyError("the caller's own error")
    assert len(runs) == 1 and not runs[0].parent.exists()  # the download is removed on the way out


def test_retraining_sources_are_downloaded_together_and_removed_when_one_fails(settings, tmp_path):
    from workers.training_runs import _local_sources

    settings.WORK_DIR = tmp_path
    storage = InMemoryStorage()
    name = storage.save("training/film.mp4", ContentFile(b"frames"))
    source = SimpleNamespace(file=RemoteFieldFile(None, models.FileField(storage=storage), name))
    missing = SimpleNamespace(
        file=RemoteFieldFile(None, models.FileField(storage=storage), "training/gone.mp4")
    )
    with _local_sources([source, source]) as paths:
        assert [p.read_bytes() for p in paths] == [b"frames", b"frames"]
    with pytest.raises(FileNotFoundError):
        with _local_sources([source, missing]):
            pass
    assert list((tmp_path / "tmp").iterdir()) == []  # the first download went with the failure
