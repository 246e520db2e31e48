"""Deleting an item or a colorization result moves it to the trash (TrashEntry) instead of destroying it.

Files are copied under trash/ before the rows go, and removed from their place only once the deletion has
committed: a failure anywhere leaves a file in two places, never in none. Restore puts rows (same ids) and files
back; `manage.py purge_trash` removes trashed files after COLORARCHIVE_TRASH_DAYS and keeps the entry as the
audit record of who deleted what, and when.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.conf import settings
from django.core import serializers
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from portal.catalog.models import Item, TrashEntry


class TrashError(ValueError):
    pass


def _stored_files(rows) -> list[str]:
    names = []
    for row in rows:
        for field in row._meta.get_fields():
            if getattr(field, "attname", None) and field.get_internal_type() == "FileField":
                name = getattr(row, field.attname).name
                if name:
                    names.append(name)
    return names


def _copy(src: str, dst: str) -> str:
    with default_storage.open(src, "rb") as f:
        return default_storage.save(dst, f)


def _trash(kind: str, obj, rows: list, label: str, user) -> TrashEntry:
    with transaction.atomic():
        entry = TrashEntry.objects.create(kind=kind, object_id=obj.pk, label=label[:400], deleted_by=user)
        files = []
        for name in _stored_files(rows):
            if default_storage.exists(name):
                files.append([name, _copy(name, f"trash/{entry.pk}/{name}")])
        entry.rows = json.loads(serializers.serialize("json", rows))
        entry.files = files
        entry.save(update_fields=["rows", "files"])
        obj.delete()
        transaction.on_commit(lambda: [default_storage.delete(name) for name, _ in files])
    return entry


def trash_item(item: Item, user=None) -> TrashEntry:
    """The item, its colorization requests and their film segments go to the trash together."""
    requests = list(item.requests.all())
    segments = [seg for req in requests for seg in req.segments.all()]
    for req in requests:
        req.cancel(by=user)  # a running worker stops at its next progress report
    return _trash(TrashEntry.Kind.ITEM, item, [item, *requests, *segments], item.title, user)


def trash_result(req, user=None) -> TrashEntry:
    req.cancel(by=user)
    return _trash(TrashEntry.Kind.RESULT, req, [req, *req.segments.all()], str(req), user)


def restore(entry: TrashEntry, user=None) -> None:
    """Put the rows back with their ids and the files back in their place; TrashError says why not."""
    if entry.restored_at or entry.purged_at:
        raise TrashError(f"{entry} was already {entry.state}.")
    with transaction.atomic():
        for name, trashed in entry.files:
            if default_storage.exists(name):
                raise TrashError(f"{name} exists again in storage; restore it by hand.")
            if _copy(trashed, name) != name:
                raise TrashError(f"{name} could not be put back under its own name.")
        try:
            for obj in serializers.deserialize("python", entry.rows):
                # a raw save skips Item.save(), and rows trashed before migration 0014 lack search_text
                if isinstance(obj.object, Item):
                    obj.object.search_text = obj.object.folded_search_text()
                obj.save()
        except Exception as exc:  # a collection, model or account it points to was deleted meanwhile
            raise TrashError(f"{entry} cannot be restored: {exc}") from None
        entry.restored_by, entry.restored_at = user, timezone.now()
        if entry.kind == TrashEntry.Kind.ITEM:  # rows come back as they were: a restored item is changed now
            Item.objects.filter(pk=entry.object_id).update(updated=entry.restored_at)  # (OAI-PMH datestamps)
        entry.save(update_fields=["restored_by", "restored_at"])
        trashed_copies = [trashed for _, trashed in entry.files]
        transaction.on_commit(lambda: [default_storage.delete(name) for name in trashed_copies])


def in_trash():
    """The entries still restorable: neither restored nor purged, newest first."""
    return TrashEntry.objects.filter(restored_at=None, purged_at=None).select_related("deleted_by")


def purge_date(entry: TrashEntry):
    """When `purge_trash` removes the entry's files (COLORARCHIVE_TRASH_DAYS after the deletion)."""
    return entry.deleted_at + timedelta(days=settings.TRASH_DAYS)


def purge_entry(entry: TrashEntry) -> None:
    """Remove the entry's files now; the entry stays as the record and cannot be restored any more."""
    if entry.restored_at or entry.purged_at:
        raise TrashError(f"{entry} was already {entry.state}.")
    for _, trashed in entry.files:
        default_storage.delete(trashed)
    entry.purged_at = timezone.now()
    entry.save(update_fields=["purged_at"])


def purge(days: int | None = None) -> list[TrashEntry]:
    """Remove the files of entries in the trash longer than `days` (default COLORARCHIVE_TRASH_DAYS)."""
    cutoff = timezone.now() - timedelta(days=settings.TRASH_DAYS if days is None else days)
    purged = list(in_trash().filter(deleted_at__lte=cutoff))
    for entry in purged:
        purge_entry(entry)
    return purged
