"""A bounded folder of local copies of remote files, named by their SHA-256 and shared by the worker processes
of one machine: a film on remote storage is downloaded once for all its segments and its join, not once each.

    cache = FileCache(folder, max_bytes)
    with cache.open(sha256, ".mp4", fetch, size) as path:   # fetch() -> a binary file to copy from
        ...                                                 # the copy stays while the block runs

A download goes to a temporary name, is hashed on the way and renamed to its entry only when the digest is the one
asked for (else DigestMismatch, and nothing is kept), so no partial or foreign copy is ever found under an entry's
name. An entry is checked again before each use (its size every time, its digest once per process and version of
the file) and downloaded afresh when it fails. Each entry has a lock file: held exclusively while the entry is
checked or downloaded (a second worker wanting the same film waits, then uses the first one's copy), shared while
it is used. Once the folder holds more than `max_bytes`, the least recently used entries go first; eviction takes
an entry's lock without waiting, so a copy in use elsewhere is never removed under its reader. Locks are
`fcntl.flock`: workers on one machine, not a cache folder on a network file system.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO

from colorization.media import atomic_path

CHUNK = 1 << 20
_LOCK = ".lock"


class DigestMismatch(ValueError):
    """The downloaded bytes are not the ones the entry is named for."""

    def __init__(self, expected: str, found: str, size: int):
        super().__init__(f"the downloaded file's SHA-256 is {found} ({size:,} bytes), not {expected}")
        self.expected, self.found, self.size = expected, found, size


class FileCache:
    def __init__(self, folder: str | os.PathLike, max_bytes: int):
        self.folder, self.max_bytes = Path(folder), int(max_bytes)

    @contextmanager
    def open(
        self,
        sha256: str,
        suffix: str,
        fetch: Callable[[], AbstractContextManager[BinaryIO]],
        size: int | None = None,
    ) -> Iterator[Path]:
        """The local copy of the file whose digest is `sha256` (and size `size`, when known), downloaded with
        `fetch` unless a sound copy is there; it is not evicted while the block runs."""
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        self.folder.mkdir(parents=True, exist_ok=True)
        entry = self.folder / f"{sha256}{suffix.lower()}"
        while True:
            lock = _lock(self._lock_path(entry), fcntl.LOCK_EX)
            try:
                fetched = not _sound(entry, sha256, size)
                if fetched:
                    entry.unlink(missing_ok=True)
                    _download(entry, sha256, fetch)
                os.utime(entry, (time.time(), entry.stat().st_mtime))  # the last use: its access time
                fcntl.flock(lock, fcntl.LOCK_SH)  # readers share; the change is not atomic, so look again
                if entry.exists() and _still_at(lock, self._lock_path(entry)):
                    break
            except BaseException:
                lock.close()
                raise
            lock.close()  # evicted in between: start over
        try:
            if fetched:
                self.evict()
            yield entry
        finally:
            lock.close()  # releases the lock
        self.evict()  # an entry larger than the bound stays only while it is used

    def evict(self) -> int:
        """Remove unused entries, least recently used first, until the folder holds at most `max_bytes`
        (leftovers of interrupted downloads go first); returns the bytes removed."""
        entries, total, removed = [], 0, 0
        for path in self.folder.iterdir():
            if path.name.endswith(_LOCK):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed by another worker meanwhile
                continue
            total += stat.st_size
            partial = path.name.startswith(".")  # atomic_path's temporary name: ".<sha256>.xxxx.part.mp4"
            entries.append((not partial, stat.st_atime, path, stat.st_size))
        for _, _, path, size in sorted(entries):
            partial = path.name.startswith(".")
            if total <= self.max_bytes and not partial:
                break
            lock_path = self.folder / (path.name.lstrip(".").split(".")[0] + _LOCK)
            lock = _lock(lock_path, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if lock is None:  # in use (or being downloaded): left alone
                continue
            try:
                path.unlink(missing_ok=True)
                if not partial:
                    lock_path.unlink(missing_ok=True)  # while held: see _lock
            finally:
                lock.close()
            total, removed = total - size, removed + size
        return removed

    def _lock_path(self, entry: Path) -> Path:
        return self.folder / (entry.name.split(".")[0] + _LOCK)


def _lock(path: Path, mode: int):
    """The open lock file `path`, locked with `mode`; None when LOCK_NB finds it held. The file is removed with
    its entry, so a lock taken on a file that is no longer at `path` is let go and taken again."""
    while True:
        handle = open(path, "ab")  # noqa: SIM115 (returned to the caller, who closes it)
        try:
            fcntl.flock(handle, mode)
        except BlockingIOError:
            handle.close()
            return None
        if _still_at(handle, path):
            return handle
        handle.close()


def _still_at(handle, path: Path) -> bool:
    """Whether the open file `handle` is still the file at `path` (eviction removes lock files)."""
    try:
        return os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


_verified: dict[
    Path, tuple[int, int, int]
] = {}  # entry -> (inode, size, mtime) whose digest this process checked


def _sound(entry: Path, sha256: str, size: int | None) -> bool:
    """Whether `entry` holds the bytes named `sha256`: size on every call, the digest once per file version."""
    try:
        stat = entry.stat()
    except FileNotFoundError:
        return False
    version = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if size is not None and stat.st_size != size:
        return False
    if _verified.get(entry) != version:
        with open(entry, "rb") as f:
            if hashlib.file_digest(f, "sha256").hexdigest() != sha256:
                return False
        _verified[entry] = version
    return True


def _download(entry: Path, sha256: str, fetch: Callable[[], AbstractContextManager[BinaryIO]]) -> None:
    digest, size = hashlib.sha256(), 0
    with atomic_path(entry) as tmp:
        with fetch() as src, open(tmp, "wb") as out:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        if digest.hexdigest() != sha256:
            raise DigestMismatch(sha256, digest.hexdigest(), size)  # atomic_path removes the download
    stat = entry.stat()
    _verified[entry] = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
