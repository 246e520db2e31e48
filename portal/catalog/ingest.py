"""Adding originals to the archive: hash once, store once, describe, and let a worker make the previews."""

from __future__ import annotations

import hashlib
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import File
from django.db import transaction

from portal.catalog.models import Item

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"}
FILM_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".m4v", ".ogv"}


class IngestError(ValueError):
    """An upload the archive cannot take; the message names the file and the reason."""


def sha256_of(f: File) -> str:
    digest = hashlib.sha256()
    f.seek(0)
    for chunk in f.chunks():
        digest.update(chunk)
    f.seek(0)
    return digest.hexdigest()


def type_for(name: str) -> str:
    suffix = PurePath(name).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return Item.Type.STILL_IMAGE
    if suffix in FILM_SUFFIXES:
        return Item.Type.MOVING_IMAGE
    known = ", ".join(sorted(IMAGE_SUFFIXES | FILM_SUFFIXES))
    raise IngestError(f"{name}: unsupported file type {suffix or '(none)'}; expected one of {known}")


def add_item(upload: File, *, user=None, **fields) -> Item:
    """Store `upload` as a new draft item (fields are Item fields); previews are made on commit."""
    name = PurePath(upload.name or "upload").name
    item_type = type_for(name)
    size = upload.size or 0
    if size == 0:
        raise IngestError(f"{name}: the file is empty")
    if size > settings.MAX_UPLOAD_BYTES:
        raise IngestError(
            f"{name}: {size / 1e6:.0f} MB is larger than the {settings.MAX_UPLOAD_BYTES / 1e6:.0f} MB limit"
        )
    digest = sha256_of(upload)
    existing = Item.objects.filter(sha256=digest).first()
    if existing is not None:
        raise IngestError(
            f"{name}: this file is already in the archive as item {existing.pk} ({existing.title!r})"
        )
    fields.setdefault("title", PurePath(name).stem.replace("_", " ").replace("-", " ").strip() or name)
    item = Item(sha256=digest, size=size, original_name=name, type=item_type, created_by=user, **fields)
    # Store the file before the row's transaction: a long upload (or an S3 copy) must not hold the database's
    # write lock, which the workers need for their progress. The row and the preview job commit together.
    item.original.save(name, upload, save=False)
    try:
        with transaction.atomic():
            item.save()
            enqueue_previews(item)
    except BaseException:
        item.original.delete(save=False)  # nothing half-written is kept
        raise
    return item


def enqueue_previews(item: Item) -> None:
    from workers import tasks

    transaction.on_commit(lambda: tasks.make_previews.delay(item.pk))
