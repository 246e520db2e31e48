"""The storage bridge: Django storages (local or S3) on one side, libraries that want file paths on the other."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db.models.fields.files import FieldFile

from colorization.media import atomic_write
from portal.storage import media_folder, require_free
from workers.cache import FileCache


@contextmanager
def local_path(field: FieldFile) -> Iterator[Path]:
    """A path to the stored file: the file itself on local storage, else a temporary download.

    Only asking the storage for the path decides which; an error raised in the caller's `with` body passes
    through unchanged (the `yield`s stand outside the `try`)."""
    try:
        path = Path(field.path)
    except NotImplementedError:  # remote storage (S3): no local path
        path = None
    if path is not None:
        yield path
        return
    suffix = Path(field.name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix, dir=scratch_dir()) as tmp:
        with field.open("rb") as src:
            shutil.copyfileobj(src, tmp, 1024 * 1024)
        tmp.flush()
        yield Path(tmp.name)


@contextmanager
def original_copy(field: FieldFile, sha256: str, size: int | None = None) -> Iterator[Path]:
    """A path to a stored original: the file itself on local storage, else this machine's copy in the originals
    cache (workers/cache.py), downloaded once for every segment and the join of a film, its SHA-256 checked.
    cache.DigestMismatch when the stored bytes are not the ones named `sha256`."""
    try:
        path = Path(field.path)
    except NotImplementedError:  # remote storage (S3): no local path
        path = None
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


def store(field: FieldFile, name: str, path: Path) -> None:
    """Save a finished local file into storage under `name` (replacing what the field held); InsufficientStorage
    before anything is written when it would leave less than settings.MIN_FREE_BYTES free."""
    require_free(media_folder(field.storage), path.stat().st_size, "media store")
    if field.name:
        field.storage.delete(field.name)
    with open(path, "rb") as f:
        field.save(name, File(f), save=False)


def scratch_dir() -> Path:
    path = Path(settings.WORK_DIR) / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(dir=scratch_dir()) as tmp:
        yield Path(tmp)


def model_checkpoint(model) -> Path:
    """A local path to a registered model's checkpoint (an uploaded or trained file, or a bundled zoo name)."""
    if model.checkpoint:
        return cached_copy(model.checkpoint, f"model-{model.pk}-{Path(model.checkpoint.name).name}")
    from colorization import zoo

    return Path(zoo.resolve_model(model.zoo_name or "default"))
