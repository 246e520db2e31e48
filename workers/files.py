"""The storage bridge: Django storages (local or S3) on one side, libraries that want file paths on the other."""

from __future__ import annotations

import fcntl
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db.models.fields.files import FieldFile

from colorization.media import atomic_write
from workers.cache import FileCache

log = logging.getLogger("workers")


def _stored_path(field: FieldFile) -> Path | None:
    """The stored file's own path on local storage; None on remote storage (S3), which has none."""
    try:
        return Path(field.path)
    except NotImplementedError:
        return None


@contextmanager
def local_path(field: FieldFile) -> Iterator[Path]:
    """A path to the stored file: the file itself on local storage, else a temporary download.

    Only asking the storage for the path decides which; an error raised in the caller's `with` body passes
    through unchanged (the `yield`s stand outside any `try`)."""
    path = _stored_path(field)
    if path is not None:
        yield path
        return
    with scratch() as folder:
        copy_to = folder / f"download{Path(field.name).suffix}"
        with field.open("rb") as src, open(copy_to, "wb") as out:
            shutil.copyfileobj(src, out, 1024 * 1024)
        yield copy_to


@contextmanager
def original_copy(field: FieldFile, sha256: str, size: int | None = None) -> Iterator[Path]:
    """A path to a stored original: the file itself on local storage, else this machine's copy in the originals
    cache (workers/cache.py), downloaded once for every segment and the join of a film, its SHA-256 checked.
    cache.DigestMismatch when the stored bytes are not the ones named `sha256`."""
    path = _stored_path(field)
    if path is not None:
        yield path
        return
    cache = FileCache(Path(settings.WORK_DIR) / "cache" / "originals", settings.ORIGINALS_CACHE_BYTES)
    with cache.open(
        sha256, Path(field.name).suffix, lambda: field.storage.open(field.name, "rb"), size
    ) as path:
        yield path


def cached_copy(field: FieldFile, key: str) -> Path:
    """A local copy that lives as long as the worker (model checkpoints on remote storage)."""
    try:
        return Path(field.path)
    except NotImplementedError:
        pass
    dst = Path(settings.WORK_DIR) / "cache" / key
    if not dst.exists():
        with field.open("rb") as src:
            atomic_write(dst, lambda out: shutil.copyfileobj(src, out, 1024 * 1024))
    return dst


def scratch_dir() -> Path:
    path = Path(settings.WORK_DIR) / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


# A scratch folder holds a lock file, locked (fcntl.flock) by the process that works in it for as long as it
# does: the kernel lets go of the lock when that process dies, SIGKILL included, so a folder whose lock can be
# taken belongs to no one. A folder younger than SCRATCH_GRACE_SECONDS is left alone whatever its lock says (made,
# not yet locked); anything without a lock file (left by a release before these locks) after UNLOCKED_GRACE_SECONDS.
SCRATCH_GRACE_SECONDS = 60
UNLOCKED_GRACE_SECONDS = 24 * 3600
_SCRATCH_LOCK = ".owner.lock"


@contextmanager
def scratch() -> Iterator[Path]:
    """A private folder for one attempt's temporary files, removed when the block ends; what a killed attempt
    left (its folder, or a loose file) is removed by the next scratch() on the machine (remove_abandoned)."""
    folder = scratch_dir()
    remove_abandoned(folder)
    path = Path(tempfile.mkdtemp(dir=folder))
    try:
        with open(path / _SCRATCH_LOCK, "wb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def remove_abandoned(folder: Path) -> list[Path]:
    """Remove the scratch folders in `folder` whose lock no living process holds, and what has no lock once it
    is old; returns what was removed. Safe beside other workers: a folder whose lock is held is never touched."""
    removed = []
    now = time.time()
    for path in folder.iterdir():
        try:
            age = now - path.lstat().st_mtime
            locked = path.is_dir() and not path.is_symlink() and (path / _SCRATCH_LOCK).exists()
            if age < (SCRATCH_GRACE_SECONDS if locked else UNLOCKED_GRACE_SECONDS):
                continue
            if not locked:
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
                removed.append(path)
                continue
            with _free_lock(path / _SCRATCH_LOCK) as free:
                if free:
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
        except FileNotFoundError:  # removed meanwhile by its owner or another worker
            continue
    if removed:
        log.warning("removed %d scratch leftover(s) of stopped workers: %s", len(removed), removed)
    return removed


@contextmanager
def _free_lock(path: Path) -> Iterator[bool]:
    """Whether the lock file `path` is free; it is held while the block runs, so no one takes it meanwhile."""
    with open(path, "rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def model_checkpoint(model) -> Path:
    """A local path to a registered model's checkpoint (an uploaded or trained file, or a bundled zoo name)."""
    if model.checkpoint:
        return cached_copy(model.checkpoint, f"model-{model.pk}-{Path(model.checkpoint.name).name}")
    from colorization import zoo

    return Path(zoo.resolve_model(model.zoo_name or "default"))
