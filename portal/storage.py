"""A full disk is an answer, not a crash: nothing half-written is kept, and the person is told.

- `InsufficientStorage` and `is_disk_full` name the fault (ENOSPC, EDQUOT, however a library wrapped it); the
  web answers it with 507 (`portal.middleware`), the preview worker leaves the item for the sweeper.
- `require_free` fails fast before a large write when less than settings.MIN_FREE_BYTES would stay free.
- `FileSystemStorage` (the media store) and `SpoolUploadHandler` (FILE_UPLOAD_TEMP_DIR) remove a file whose
  writing failed at once; Django's keep it (a partial original or film part in the media folder, a spool file
  held open until the request is collected, so the next uploads find the spool full too).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage as DjangoFileSystemStorage
from django.core.files.storage import default_storage
from django.core.files.uploadhandler import TemporaryFileUploadHandler

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
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".incoming-")
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
