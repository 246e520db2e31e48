"""An XMP packet in an MP4 or MOV film, where Adobe's XMP specification (part 3) puts it for ISO base media
files: a top-level `uuid` box with the XMP UUID. ExifTool, Adobe's tools and C2PA readers find it there.

FFmpeg writes no XMP, so the box is appended after the muxer is done: a top-level box at the end of the file
moves no sample offset, so the film plays as before.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
SUFFIXES = (".mp4", ".m4v", ".mov")


def append_xmp(path: str | os.PathLike, packet: bytes) -> None:
    """Add `packet` to the film at `path` (MP4/MOV) as a top-level XMP box. Call it on a file being written
    (before its atomic rename): the file grows in place."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ValueError(f"{path}: XMP goes into MP4 or MOV films only, not {path.suffix!r}")
    if read_xmp(path) is not None:
        raise ValueError(f"{path}: the film already holds an XMP packet")
    with open(path, "ab") as fh:
        fh.write(struct.pack(">I4s", 8 + len(XMP_UUID) + len(packet), b"uuid") + XMP_UUID + packet)


def read_xmp(path: str | os.PathLike) -> bytes | None:
    """The packet of the film's top-level XMP box, or None."""
    with open(path, "rb") as fh:
        end = os.fstat(fh.fileno()).st_size
        offset = 0
        while offset + 8 <= end:
            fh.seek(offset)
            size, kind = struct.unpack(">I4s", fh.read(8))
            header = 8
            if size == 1:  # a 64-bit size follows
                size, header = struct.unpack(">Q", fh.read(8))[0], 16
            elif size == 0:  # the box runs to the end of the file
                size = end - offset
            if size < header:
                return None  # not an ISO base media file, or a damaged one
            if kind == b"uuid" and fh.read(16) == XMP_UUID:
                return fh.read(size - header - 16)
            offset += size
    return None
