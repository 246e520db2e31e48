"""Deep zoom: IIIF Image API 3 level-0 tile pyramids of published photographs, kept as static files.

An item's pyramids are `iiif/image/item-<pk>/` (its original) and `iiif/image/result-<pk>/` (each published
colorization) in the media store, served at /iiif/image/... by the proxy (docker/nginx), never by Python in
production (Django serves them only in the embedded trial setup, settings.SERVE_TILES). Being public files,
they exist only while they may be seen: after every change to an item or a colorization request commits,
`sync` removes at once the pyramids its item may no longer show (unpublished, withdrawn, deleted) and asks the
cpu worker (workers.tasks.make_tiles) for those it should show and lacks. The worker checks again after
writing, so a pyramid made while its item was being unpublished does not stay.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.db.models.signals import post_delete, post_save

from portal.storage import media_folder

log = logging.getLogger("portal")

PREFIX = "iiif/image"  # under the media store, and the public path (/iiif/image/)
MAKE_TILES_TASK = "workers.tasks.make_tiles"  # sent by name: the portal never imports the workers


def item_identifier(pk: int) -> str:
    return f"item-{pk}"


def result_identifier(pk: int) -> str:
    return f"result-{pk}"


def _name(identifier: str, *parts: str) -> str:
    return "/".join((PREFIX, identifier, *parts))


def exists(identifier: str) -> bool:
    """Whether the pyramid is in place (its info.json is written last on remote storage, moved in whole on local)."""
    return default_storage.exists(_name(identifier, "info.json"))


def info_path(identifier: str) -> str:
    """The site-relative address of the pyramid's info.json."""
    return f"/{_name(identifier, 'info.json')}"


def wanted(item_id: int) -> dict[str, FieldFile]:
    """The pyramids item `item_id` should have now, by identifier, with the file each is made from: none unless
    it is a published photograph; then its original and each done and approved colorization."""
    from portal.catalog.models import Item
    from portal.jobs.models import ColorizationRequest, Status

    item = Item.objects.filter(pk=item_id).first()
    if item is None or not item.is_published or item.is_film or not item.original:
        return {}
    found = {item_identifier(item.pk): item.original}
    results = ColorizationRequest.objects.filter(item=item, status=Status.DONE, approved=True).exclude(
        result=""
    )
    for result in results.only("pk", "result"):
        found[result_identifier(result.pk)] = result.result
    return found


def possible(item_id: int) -> set[str]:
    """Every pyramid item `item_id` could have (its original, each of its requests)."""
    from portal.jobs.models import ColorizationRequest

    pks = ColorizationRequest.objects.filter(item_id=item_id).values_list("pk", flat=True)
    return {item_identifier(item_id), *(result_identifier(pk) for pk in pks)}


def missing(item_id: int) -> dict[str, FieldFile]:
    return {key: field for key, field in wanted(item_id).items() if not exists(key)}


def local_folder(identifier: str) -> Path | None:
    """Where the pyramid goes on local storage (the worker writes it there directly); None on remote storage."""
    root = media_folder()
    return root / PREFIX / identifier if root is not None else None


def upload(identifier: str, folder: Path) -> None:
    """Copy a finished pyramid to remote storage, info.json last: a viewer finds it only once it is whole."""
    files = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.name == "info.json")
    for path in files:
        name = _name(identifier, *path.relative_to(folder).parts)
        default_storage.delete(name)  # the storage would otherwise keep the old tile and pick a new name
        with open(path, "rb") as f:
            default_storage.save(name, File(f))


def remove(identifier: str) -> bool:
    """Take a pyramid down: on local storage moved aside in one rename (unreachable at once), then deleted; on
    remote storage info.json first, then every tile. Whether there was one."""
    folder = local_folder(identifier)
    if folder is not None:
        if not folder.exists():
            return False
        gone = folder.with_name(f".{identifier}.gone-{uuid.uuid4().hex[:8]}")
        os.replace(folder, gone)
        shutil.rmtree(gone, ignore_errors=True)
        return True
    names = list(_walk(_name(identifier)))
    default_storage.delete(_name(identifier, "info.json"))
    for name in names:
        default_storage.delete(name)
    return bool(names)


def _listing(name: str) -> tuple[list[str], list[str]]:
    try:
        return default_storage.listdir(name)
    except FileNotFoundError:
        return [], []


def _walk(name: str):
    folders, files = _listing(name)
    for child in folders:
        yield from _walk(f"{name}/{child}")
    for child in files:
        yield f"{name}/{child}"


def withdraw_unwanted(item_id: int, also: set[str] = frozenset()) -> list[str]:
    """Remove the pyramids of item `item_id` it may not show now (and those named in `also`); their names."""
    unwanted = (possible(item_id) | also) - set(wanted(item_id))
    return [identifier for identifier in sorted(unwanted) if remove(identifier)]


def sync(item_id: int, also: set[str] = frozenset()) -> None:
    """After a change commits: take down what may no longer be seen, now; queue what should be made."""
    from portal import broker

    try:
        removed = withdraw_unwanted(item_id, also)
    except OSError as exc:  # the change itself is committed; the worker's own check removes it later
        log.warning("deep zoom tiles of item %s not removed: %s", item_id, exc)
        removed = []
    if removed:
        log.info("deep zoom tiles taken down: %s", ", ".join(removed))
    if missing(item_id):
        broker.send(MAKE_TILES_TASK, item_id)


def _after_commit(item_id: int, also: set[str] = frozenset()) -> None:
    transaction.on_commit(lambda: sync(item_id, also), robust=True)


def _item_saved(sender, instance, update_fields=None, raw=False, **kwargs) -> None:
    if update_fields is None or "status" in update_fields:
        _after_commit(instance.pk)


def _request_saved(sender, instance, update_fields=None, raw=False, **kwargs) -> None:
    if update_fields is None or {"status", "approved", "result"} & set(update_fields):
        _after_commit(instance.item_id)


def _item_deleted(sender, instance, **kwargs) -> None:
    _after_commit(instance.pk)


def _request_deleted(sender, instance, **kwargs) -> None:
    _after_commit(instance.item_id, {result_identifier(instance.pk)})


def connect_signals() -> None:
    """Called from the gallery's AppConfig.ready(). Every way an item is published or unpublished, and a result
    approved, withdrawn or deleted, saves or deletes the row (queryset.update() is not used for these)."""
    from portal.catalog.models import Item
    from portal.jobs.models import ColorizationRequest

    post_save.connect(_item_saved, sender=Item, dispatch_uid="deepzoom-item-save")
    post_delete.connect(_item_deleted, sender=Item, dispatch_uid="deepzoom-item-delete")
    post_save.connect(_request_saved, sender=ColorizationRequest, dispatch_uid="deepzoom-request-save")
    post_delete.connect(_request_deleted, sender=ColorizationRequest, dispatch_uid="deepzoom-request-delete")
