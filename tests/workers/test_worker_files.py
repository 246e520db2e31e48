"""The storage bridge: a checkpoint on storage without local paths (S3 in production) is copied once into the
worker's cache, whole and under its final name only."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage
from django.db import models
from django.db.models.fields.files import FieldFile

from workers.files import cached_copy


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
