"""Adding originals to the archive: hash once, store once, describe, and let a worker make the previews."""

from __future__ import annotations

from pathlib import PurePath

from django.core.files.base import File
from django.db import transaction

from colorization.media import ImageError, RefusedMedia, check_header, policy, sha256_chunks
from portal.catalog.models import Item


class IngestError(ValueError):
    """An upload the archive cannot take; the message names the file and the reason."""


def sha256_of(f: File) -> str:
    f.seek(0)
    digest = sha256_chunks(f.chunks())
    f.seek(0)
    return digest


def check_upload(upload: File) -> str:
    """The upload's kind ("image" or "film") when the archive takes it (colorization.media.policy: type, size,
    and for an image whose header is readable, its pixel count); IngestError saying why not otherwise."""
    name = PurePath(upload.name or "upload").name
    try:
        kind = policy.check_kind(name)
        policy.check_size(name, upload.size or 0)
        if kind == "image":
            upload.seek(0)
            check_header(upload, name)  # unreadable data is left to the previews, which record why
    except (RefusedMedia, ImageError) as exc:
        raise IngestError(str(exc)) from None
    return kind


def add_item(upload: File, *, user=None, **fields) -> Item:
    """Store `upload` as a new draft item (fields are Item fields); previews are made on commit."""
    name = PurePath(upload.name or "upload").name
    kind = check_upload(upload)
    item_type = Item.Type.STILL_IMAGE if kind == "image" else Item.Type.MOVING_IMAGE
    size = upload.size
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
