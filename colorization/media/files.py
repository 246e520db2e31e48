"""Hashing and atomic writes: the one way files are fingerprinted and written in the project.

An atomic write goes to a temporary name in the target folder and is renamed over the target at the end, so no
half-written file is ever visible under the final name; on any error the temporary file is removed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def sha256_chunks(chunks: Iterable[bytes]) -> str:
    """Hex SHA-256 of a stream of byte chunks (an upload's `.chunks()`)."""
    return _sha256_and_size(chunks)[0]


def sha256_stream(f: BinaryIO) -> tuple[str, int]:
    """Hex SHA-256 and size in bytes of an open binary file (local or a storage's), read from where it stands
    to its end: fixity checks compare both with what was recorded."""
    return _sha256_and_size(iter(lambda: f.read(CHUNK), b""))


def _sha256_and_size(chunks: Iterable[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask() round trips are not thread-safe


@contextmanager
def atomic_path(dst: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside `dst` (same suffix, so muxers and savers pick the right format); renamed to
    `dst` when the block ends without error, removed otherwise. The result keeps the mode of the file it
    replaces, or gets the usual mode of a new file."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.stem}.", suffix=f".part{dst.suffix}")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        mode = dst.stat().st_mode & 0o777 if dst.exists() else 0o666 & ~_UMASK  # mkstemp makes 0600
        os.chmod(tmp, mode)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(dst: str | os.PathLike, data: bytes | Callable[[BinaryIO], None]) -> Path:
    """Write bytes (or let `data(fh)` write into an open binary file) to `dst` atomically."""
    dst = Path(dst)
    with atomic_path(dst) as tmp, open(tmp, "wb") as fh:
        if callable(data):
            data(fh)
        else:
            fh.write(data)
    return dst
