"""A full disk is an answer, not a crash: nothing half-written is kept, and the person is told.

- `InsufficientStorage` and `is_disk_full` name the fault (ENOSPC, EDQUOT, however a library wrapped it); the
  web answers it with 507 (`portal.middleware`), the preview worker leaves the item for the sweeper.
- `require_free` fails fast before a large write when less than settings.MIN_FREE_BYTES would stay free.
- `FileSystemStorage` (the media store) and `SpoolUploadHandler` (FILE_UPLOAD_TEMP_DIR) remove a file whose
  writing failed at once; Django's keep it (a partial original or film part in the media folder, a spool file
  held open until the request is collected, so the next uploads find the spool full too).
- `store_then_save` stores files and then their row, and keeps no file whose row did not commit;
  `remove_leftovers` (the hourly leftovers pass) removes what a process killed while storing left, sets aside a
  whole file whose row never committed, and removes tile folders a killed swap or removal left.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import posixpath
import re
import shutil
import stat
import tempfile
import time
import unicodedata
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


def remove_leftovers() -> list[str]:
    """The hourly leftovers pass (`workers.tasks.remove_incoming_leftovers`, `manage.py sweep`): what processes
    killed while storing left in the local media store, one line for each thing removed or set aside."""
    minutes = settings.INCOMING_MINUTES
    return [
        *(f"removed half-written {name}" for name in remove_incoming_leftovers(minutes)),
        *(
            f"set aside {name} (stored, no row refers to it) in {UNRECORDED}/"
            for name in set_aside_unrecorded(minutes)
        ),
        *(
            f"removed {name}, set aside {settings.TRASH_DAYS} days ago"
            for name in purge_unrecorded(settings.TRASH_DAYS)
        ),
    ]


def remove_incoming_leftovers(minutes: float) -> list[str]:
    """Remove what a process killed while storing left in the local media store, untouched for `minutes`:
    `.incoming-*` files (this module's FileSystemStorage) and tile folders (colorization.media.tiles) unless a
    row refers to them, and the `.old-`/`.gone-` tile folders a killed swap or removal left (no row ever refers
    to those; their own process only ever deletes them). Returns their names relative to the media store; none
    on remote storage (S3 writes a file whole or not at all). A store still writing touches its file with every
    chunk, so it is never old."""
    from portal.gallery.deepzoom import PREFIX

    root = media_folder()
    if root is None or not root.is_dir():
        return []
    cutoff = time.time() - minutes * 60
    leftovers = []
    for folder, subfolders, files in os.walk(root):
        here = Path(folder)
        in_tiles = here.relative_to(root).as_posix() == PREFIX
        incoming = [n for n in (*files, *subfolders) if n.startswith(".") and INCOMING in n]
        if in_tiles:
            incoming += [n for n in subfolders if _TILES_SET_ASIDE.match(n)]
        leftovers += [here / n for n in incoming if _last_written(here / n) < cutoff]
        if in_tiles:
            subfolders.clear()  # the tile pyramids: thousands of tiles, written beside them as one folder
        else:
            subfolders[:] = [n for n in subfolders if n not in incoming]
    removed = []
    for path in leftovers:
        name = path.relative_to(root).as_posix()
        if _referenced_now(name):
            continue
        try:
            if _TILES_SET_ASIDE.match(path.name):  # its own process may be deleting it too
                shutil.rmtree(path, ignore_errors=True)
            elif path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:  # renamed into place or removed meanwhile
            continue
        removed.append(name)
    if removed:
        log.warning("removed %d file(s) left half-written by stopped processes: %s", len(removed), removed)
    return removed


# colorization.media.tiles moves an older pyramid aside as `.<id>.old-<x>`, deepzoom.remove a withdrawn one as
# `.<id>.gone-<x>`, each deleted right after; a process killed in between leaves it.
_TILES_SET_ASIDE = re.compile(r"^\.[^/]+\.(old|gone)-[^/.]+$")

# The folders the FileFields' upload_to store into (portal.catalog.models, portal.jobs.models). A file there is
# stored before its row commits (store_then_save), so a process killed in between leaves a
# whole file no row refers to. Anything else in the media store (tile pyramids, trash/) is never looked at here.
STORED_FOLDERS = ("originals", "derived/items", "results", "models", "work/segments", "training/sources")
UNRECORDED = "trash/unrecorded"  # where such files wait settings.TRASH_DAYS before they are removed
# More unrecorded files than this (and than a tenth of the stored files) in one pass is not a killed store but a
# database that is not this media store's (an empty one, or an older restore): nothing is set aside then.
UNRECORDED_LIMIT = 100


def set_aside_unrecorded(minutes: float) -> list[str]:
    """Move a whole file in STORED_FOLDERS that no row refers to, unchanged (content, name or place) for
    `minutes`, to UNRECORDED under the same name; returns the names. Not deleted at once: the rule cannot tell
    a file whose row never committed from an original whose row is missing for another reason (a database
    restored from an older dump), and originals must never be lost. Hidden files (`.incoming-*`) and links are
    left alone; none on remote storage. Raises (and moves nothing) when the database cannot answer."""
    root = media_folder()
    if root is None or not root.is_dir():
        return []
    cutoff = time.time() - minutes * 60
    scanned, old = 0, []
    for top in STORED_FOLDERS:
        for folder, subfolders, files in os.walk(root / top):
            subfolders[:] = [n for n in subfolders if not n.startswith(".")]
            for n in files:
                path = Path(folder) / n
                try:
                    st = path.lstat()
                except FileNotFoundError:
                    continue
                if n.startswith(".") or not stat.S_ISREG(st.st_mode):
                    continue
                scanned += 1
                # ctime too: a file renamed into place (an upload spooled on the same disk, a copy kept with
                # its times) keeps an old mtime, and no one can set ctime back
                if max(st.st_mtime, st.st_ctime) < cutoff:
                    old.append(path)
    if not old:
        return []
    recorded = _recorded_names(root)
    unrecorded = [p for p in old if _key(p.relative_to(root).as_posix(), root) not in recorded]
    if unrecorded and (not recorded or len(unrecorded) > max(UNRECORDED_LIMIT, scanned // 10)):
        log.error(
            "%d of %d stored file(s) have no row: is this the media store of this database? None set aside.",
            len(unrecorded), scanned,
        )  # fmt: skip
        return []
    moved = []
    for path in unrecorded:
        name = path.relative_to(root).as_posix()
        if _referenced_now(name):  # a row committed since the names were read
            continue
        if _set_aside(path, root / UNRECORDED / name):
            moved.append(name)
    if moved:
        log.warning("set aside %d stored file(s) no row refers to in %s: %s", len(moved), UNRECORDED, moved)
    return moved


def _set_aside(path: Path, dst: Path) -> bool:
    """Give `path` the name `dst` (or `dst` numbered, when taken) and drop its own: a hard link, which never
    replaces a file, then an unlink; never a copy that a full disk could cut short. Whether it was moved."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    for n in range(100):
        try:
            os.link(path, dst if n == 0 else dst.with_name(f"{dst.stem}-{n}{dst.suffix}"))
            break
        except FileExistsError:
            continue
        except FileNotFoundError:  # removed meanwhile
            return False
        except OSError as exc:  # another file system (a mount inside the media store), or no hard links
            log.warning("could not set aside %s: %s", path, exc)
            return False
    else:
        return False
    path.unlink()
    return True


def purge_unrecorded(days: float) -> list[str]:
    """Remove what set_aside_unrecorded moved more than `days` ago (the move sets ctime); their names there."""
    root = media_folder()
    folder = root / UNRECORDED if root is not None else None
    if folder is None or not folder.is_dir():
        return []
    cutoff = time.time() - days * 86400
    removed = []
    for path in sorted(folder.rglob("*"), reverse=True):  # files before their folders
        try:
            st = path.lstat()
            if stat.S_ISDIR(st.st_mode):
                if not any(path.iterdir()):
                    path.rmdir()
            elif max(st.st_mtime, st.st_ctime) < cutoff:
                path.unlink()
                removed.append(path.relative_to(folder).as_posix())
        except FileNotFoundError:
            continue
    return sorted(removed)


@functools.cache  # the models are fixed once Django is set up; the leftovers pass asks once per file
def _file_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field) that names a stored file: the FileFields, and the text fields that keep those names
    in django-simple-history's records (an item's history)."""
    from django.apps import apps

    found = []
    for model in apps.get_models():
        source = getattr(model, "instance_type", None)  # a historical model copies its instance's fields
        if not (isinstance(source, type) and issubclass(source, models.Model)):
            source = model
        names = {f.name for f in source._meta.get_fields() if isinstance(f, models.FileField)}
        found += [(model, f.name) for f in model._meta.concrete_fields if f.name in names]
    return found


def _key(name: str, root: Path) -> str:
    """A stored name as compared: relative, normalized, one Unicode form, any case (a case-insensitive disk)."""
    if name.startswith(str(root) + os.sep):
        name = name[len(str(root)) + 1 :]
    return unicodedata.normalize("NFC", posixpath.normpath(name.replace(os.sep, "/"))).casefold()


def _recorded_names(root: Path) -> set[str]:
    """Every stored name a row refers to: file fields, their history, and the trash's records."""
    from portal.catalog.models import TrashEntry

    names: set[str] = set()
    for model, field in _file_fields():
        names.update(model._base_manager.exclude(**{field: ""}).values_list(field, flat=True).iterator())
    for files in TrashEntry.objects.values_list("files", flat=True).iterator():
        names.update(name for pair in files for name in pair)
    return {_key(name, root) for name in names if name}


def _referenced_now(name: str) -> bool:
    return any(model._base_manager.filter(**{field: name}).exists() for model, field in _file_fields())


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
