"""A full disk is an answer, not a crash: nothing half-written is kept, and the person is told.

- `InsufficientStorage` and `is_disk_full` name the fault (ENOSPC, EDQUOT, however a library wrapped it); the
  web answers it with 507 (`portal.middleware`), the preview worker leaves the item for the sweeper.
- `require_free` fails fast before a large write when less than settings.MIN_FREE_BYTES would stay free.
- `FileSystemStorage` (the media store) and `SpoolUploadHandler` (FILE_UPLOAD_TEMP_DIR) remove a file whose
  writing failed at once; Django's keep it (a partial original or film part in the media folder, a spool file
  held open until the request is collected, so the next uploads find the spool full too).
- `store_then_save` stores files and then their row, and keeps no file whose row did not commit;
  `remove_incoming_leftovers` (run by the sweeper) removes what a process killed while storing left.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage as DjangoFileSystemStorage
from django.core.files.storage import default_storage
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.db import DatabaseError, models, transaction

log = logging.getLogger("portal")

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class InsufficientStorage(OSError):
    """Too little free space for a write (found before it started, or ENOSPC/EDQUOT while writing)."""

    def __init__(self, message: str):
        super().__init__(errno.ENOSPC, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether `exc` (or an error it was raised from: Pillow and PyAV wrap the OSError) is a full disk or quota."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def media_folder(storage=None) -> Path | None:
    """The local folder of `storage` (default: the media store); None for remote storage (S3), whose space is
    not ours to measure."""
    try:
        return Path((storage or default_storage).path(""))
    except NotImplementedError:
        return None


def require_free(folder: Path | None, incoming: int, what: str) -> None:
    """InsufficientStorage unless `incoming` more bytes leave settings.MIN_FREE_BYTES free under `folder`
    (None: remote storage, not checked). `what` names the place for staff ("media store", "upload spool")."""
    if folder is None:
        return
    while not folder.exists() and folder != folder.parent:  # not made yet (a fresh demo): measure its parent
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free - incoming < settings.MIN_FREE_BYTES:
        raise InsufficientStorage(
            f"The {what} is full: {incoming / 1e6:.1f} MB cannot be written with {free / 1e6:.1f} MB free "
            f"(at least {settings.MIN_FREE_BYTES / 1e6:.0f} MB must stay free)."
        )


INCOMING = ".incoming-"  # in the name of a file or tile folder being written; renamed into place when whole


class _Written(File):
    """A finished file beside its destination, which Django's storage renames into place."""

    def temporary_file_path(self) -> str:
        return self.name


class FileSystemStorage(DjangoFileSystemStorage):
    """Django's local storage, except that a stored name only ever holds a whole file: the bytes are written
    beside it under a temporary name and renamed into place (a rename takes no space), or removed when the
    writing fails. Django's own writes in place and keeps what it wrote when the disk fills."""

    def _save(self, name: str, content) -> str:
        folder = Path(self.path(name)).parent
        folder.mkdir(parents=True, exist_ok=True)
        spooled = getattr(content, "temporary_file_path", None)
        if spooled and os.stat(spooled()).st_dev == folder.stat().st_dev:
            return super()._save(name, content)  # a rename on the same file system
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=INCOMING)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in content.chunks():
                    out.write(chunk.encode() if isinstance(chunk, str) else chunk)
            return super()._save(name, _Written(None, tmp))
        finally:
            Path(tmp).unlink(missing_ok=True)  # gone already when it was renamed into place


class SpoolUploadHandler(TemporaryFileUploadHandler):
    """Django's spooling of large uploads, except that a spool file whose writing fails is removed at once."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        try:
            self.file.write(raw_data)
        except BaseException:
            self.file.close()  # a NamedTemporaryFile: closing removes it
            raise


def store_then_save(
    instance: models.Model,
    files: Mapping[str, tuple[File | Path, str]],
    *,
    check: Callable[[], None] | None = None,
    save: Callable[[], object] | None = None,
) -> None:
    """Store each `files` entry, field -> (content or a finished local file, name), as `instance.<field>` (under
    `name`, where the field's upload_to puts it), then save the row in one transaction: `save()` when given (a row that needs more
    than its own save: a lock, a state change), else `instance.save()`. `check()`, when given, runs in between,
    outside the transaction (reading the stored files back). When any step fails every file stored here is
    removed, unless a row refers to it, its field is emptied and the error passes through: no file is kept
    without its row, and none that has one is removed. InsufficientStorage before anything is written when the
    files would leave less than settings.MIN_FREE_BYTES free.

    The files go first, outside the transaction: a long upload (or a copy to S3) must not hold the database's
    write lock, which the workers need for their progress."""
    stored: list[str] = []
    try:
        for field, (content, name) in files.items():
            file = getattr(instance, field)
            if isinstance(content, Path):
                require_free(media_folder(file.storage), content.stat().st_size, "media store")
                with open(content, "rb") as fh:
                    file.save(name, File(fh), save=False)
            else:
                require_free(media_folder(file.storage), content.size or 0, "media store")
                file.save(name, content, save=False)
            stored.append(field)
        if check is not None:
            check()
        with transaction.atomic():
            (save or instance.save)()
    except BaseException:
        for field in stored:
            _remove_unreferenced(instance, field)
        raise


def _remove_unreferenced(instance: models.Model, field: str) -> None:
    """Remove the file `instance.<field>` names unless a row refers to it (on storage that overwrites, as S3 by
    default, an identical upload that won a race may have been stored under the same name); empty the field."""
    stored = getattr(instance, field).name
    try:
        referenced = type(instance)._base_manager.filter(**{field: stored}).exists()
    except DatabaseError:  # the database is away: whether a row refers to the file is unknown, so it stays
        log.warning("kept %s: the database could not say whether a row refers to it", stored)
        referenced = True
    if not referenced:
        getattr(instance, field).storage.delete(stored)
    setattr(instance, field, "")


def remove_incoming_leftovers(minutes: float) -> list[str]:
    """Remove what a process killed while storing left in the local media store: `.incoming-*` files (this
    module's FileSystemStorage) and tile folders (colorization.media.tiles) untouched for `minutes`, unless a
    row refers to them. Returns their names relative to the media store; none on remote storage (S3 writes a
    file whole or not at all). A store still writing touches its file with every chunk, so it is never old."""
    from django.apps import apps

    from portal.gallery.deepzoom import PREFIX

    root = media_folder()
    if root is None or not root.is_dir():
        return []
    cutoff = time.time() - minutes * 60
    leftovers = []
    for folder, subfolders, files in os.walk(root):
        here = Path(folder)
        incoming = [n for n in (*files, *subfolders) if n.startswith(".") and INCOMING in n]
        leftovers += [here / n for n in incoming if _last_written(here / n) < cutoff]
        if here.relative_to(root).as_posix() == PREFIX:
            subfolders.clear()  # the tile pyramids: thousands of tiles, written beside them as one folder
        else:
            subfolders[:] = [n for n in subfolders if n not in incoming]
    file_fields = [
        (model, f.name)
        for model in apps.get_models()
        for f in model._meta.get_fields()
        if isinstance(f, models.FileField)
    ]
    removed = []
    for path in leftovers:
        name = path.relative_to(root).as_posix()
        if any(model._base_manager.filter(**{field: name}).exists() for model, field in file_fields):
            continue
        try:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        except FileNotFoundError:  # renamed into place or removed meanwhile
            continue
        removed.append(name)
    if removed:
        log.warning("removed %d file(s) left half-written by stopped processes: %s", len(removed), removed)
    return removed


def _last_written(path: Path) -> float:
    """When `path` (a file, or a folder and anything in it) was last written."""
    try:
        latest = path.lstat().st_mtime
        if path.is_dir() and not path.is_symlink():
            for folder, _, files in os.walk(path):
                for n in files:
                    latest = max(latest, (Path(folder) / n).lstat().st_mtime)
        return latest
    except FileNotFoundError:  # moved or removed while we looked: its writer is alive
        return time.time()
