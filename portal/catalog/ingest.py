"""Adding originals to the archive: hash once, store once, describe, and let a worker make the previews."""

from __future__ import annotations

import re
from pathlib import PurePath

from django.core.files.base import File
from django.db import IntegrityError
from django.utils import timezone

from colorization.media import ImageError, RefusedMedia, policy, sha256_chunks
from portal import broker
from portal.catalog import fixity
from portal.catalog.models import Item
from portal.catalog.sniff import check_content
from portal.storage import store_then_save


class IngestError(ValueError):
    """An upload the archive cannot take; the message names the file and the reason."""


def sha256_of(f: File) -> str:
    f.seek(0)
    digest = sha256_chunks(f.chunks())
    f.seek(0)
    return digest


def check_upload(upload: File) -> str:
    """The upload's kind ("image" or "film") when the archive takes it (colorization.media.policy: type, size,
    pixel count; and content that opens as that kind, portal.catalog.sniff); IngestError saying why not."""
    name = PurePath(upload.name or "upload").name
    try:
        kind = policy.check_kind(name)
        policy.check_size(name, upload.size or 0)
        check_content(upload, name, kind)  # magic bytes, then the header opened (Pillow or PyAV)
    except (RefusedMedia, ImageError) as exc:
        raise IngestError(str(exc)) from None
    return kind


STORED_NAME_BYTES = 100  # file systems allow 255 bytes a name; the storage path adds folders and suffixes


def stored_name(name: str) -> str:
    """`name` shortened for storage (UTF-8 bytes, whole characters, the extension kept); the row keeps it whole."""
    path = PurePath(name)
    suffix = path.suffix if len(path.suffix.encode()) <= 16 else ""
    stem = name[: len(name) - len(suffix)] if suffix else name
    budget = STORED_NAME_BYTES - len(suffix.encode())
    while len(stem.encode()) > budget:
        stem = stem[:-1]
    return (stem.strip() or "original") + suffix


def _already(name: str, item: Item) -> IngestError:
    return IngestError(f"{name}: this file is already in the archive as item {item.pk} ({item.title!r})")


# what cameras and scanners put before a picture's own name: "IMG_0042_", "DSC01234-", "PXL_20230101_1234_"
CAMERA_PREFIX = re.compile(r"^(?:IMG|DSCN?|DSCF|DCIM|CIMG|PXL|MVI|VID|PICT|IMAG|SCAN|SCN|P)[_ -]?\d+(?:[_ -]\d+)*[_ -]+",
                           re.IGNORECASE)  # fmt: skip


def title_from_filename(name: str) -> str:
    """A title for a file uploaded without one: its name without the camera's prefix and the extension,
    underscores as spaces, and its own punctuation kept ("IMG_0042_Market-day_(1910).jpg": "Market-day (1910)")."""
    stem = PurePath(name).stem
    words = " ".join(CAMERA_PREFIX.sub("", stem).replace("_", " ").split())
    return words or " ".join(stem.replace("_", " ").split()) or name


def add_item(upload: File, *, user=None, **fields) -> Item:
    """Store `upload` as a new draft item (fields are Item fields); previews are made on commit."""
    name = PurePath(upload.name or "upload").name
    fields.setdefault("title", title_from_filename(name)[: Item._meta.get_field("title").max_length])
    return _store_original(Item(created_by=user, **fields), upload)


def add_record(*, user=None, **fields) -> Item:
    """A draft item described without its file (a CSV row naming none): a file is attached later."""
    item = Item(created_by=user, **fields)
    if item.status == Item.Status.PUBLISHED:
        raise IngestError("a record without its file cannot be published; attach the file first")
    item.full_clean(exclude=["collection", "created_by"])
    item.save()
    return item


def attach_original(item: Item, upload: File) -> Item:
    """Store `upload` as the original of a record that has none; IngestError when it has one (originals are never
    replaced) or the file is refused. The item's type follows the file."""
    if item.original:
        raise IngestError(f"“{item.title}” has its original already; an original is never replaced")
    return _store_original(item, upload)


ATTACHED_FIELDS = ["original", "original_name", "sha256", "size", "type", "fixity_checked"]


def _store_original(item: Item, upload: File) -> Item:
    """Check, hash and store `upload` as `item`'s original, then save the row; nothing is kept on failure."""
    name = PurePath(upload.name or "upload").name
    kind = check_upload(upload)
    item.type = Item.Type.STILL_IMAGE if kind == "image" else Item.Type.MOVING_IMAGE
    size = upload.size
    digest = sha256_of(upload)
    existing = Item.objects.filter(sha256=digest).first()
    if existing is not None:
        raise _already(name, existing)
    item.sha256, item.size, item.original_name = digest, size, name

    def check() -> None:  # read back what storage actually holds
        problem = fixity.mismatch(item.original, digest, size)
        if problem:
            raise IngestError(f"{name}: storing the file failed its check ({problem}); nothing was kept")
        item.fixity_checked = timezone.now()

    def save() -> None:
        if item.pk is None:
            item.save()
        elif Item.objects.select_for_update().filter(pk=item.pk, original="").exists():
            item.save(update_fields=[*ATTACHED_FIELDS, "updated"])  # the metadata as it is now stays
        else:  # another attach won the race
            raise IngestError(f"“{item.title}” has its original already; an original is never replaced")

    # A disk too full for the file refuses at once (507); a write that fails midway keeps nothing.
    try:
        store_then_save(item, {"original": (upload, stored_name(name))}, check=check, save=save)
    except BaseException as exc:  # the row did not commit, and the file went with it
        if item.pk is not None:  # a record that stays without its file
            item.sha256, item.size, item.original_name = None, 0, ""
        if isinstance(exc, IntegrityError) and (winner := Item.objects.filter(sha256=digest).first()):
            raise _already(name, winner) from None
        raise
    # From here on the row exists, so the file is never deleted; a broker outage leaves the previews to the
    # sweeper (item.queued is False then).
    enqueue_previews(item)
    return item


PREVIEWS_TASK = "workers.tasks.make_previews"  # thumbnail, web preview and media facts of a new item


def enqueue_previews(item: Item) -> None:
    broker.send_on_commit(item, PREVIEWS_TASK)
