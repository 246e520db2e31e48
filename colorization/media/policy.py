"""What the archive accepts, declared once: file types, the pixel limit and the size limit.

The portal's upload check, the workers, the `colorize` command and the training-set builder all read these,
so a file the upload takes is a file the worker can colorize. Environment variables:

    COLORARCHIVE_MAX_MEGAPIXELS   largest still image or film frame, in megapixels (default 300)
    COLORARCHIVE_MAX_UPLOAD_MB    largest upload, in megabytes (default 2048)
"""

from __future__ import annotations

import os
from pathlib import PurePath

# Still images: read with Pillow, first page (an animated GIF is a still image: its first frame).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"})
# Films: any container FFmpeg demuxes with a video stream.
FILM_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".ogv", ".wmv"})
# Numbered frames in a folder (`colorize video scans/`): decoded with FFmpeg, so DPX and EXR too.
FRAME_SUFFIXES = frozenset({".png", ".tif", ".tiff", ".dpx", ".jpg", ".jpeg", ".bmp", ".exr"})

# Decompression-bomb guard: one limit for every still image and every film frame, checked from the header
# before any pixel is decoded.
MAX_MEGAPIXELS = float(os.environ.get("COLORARCHIVE_MAX_MEGAPIXELS", "300"))
MAX_PIXELS = int(MAX_MEGAPIXELS * 1_000_000)
MAX_SIDE = 32768  # pixels on one side (also FFmpeg's own ceiling)
MAX_UPLOAD_BYTES = int(os.environ.get("COLORARCHIVE_MAX_UPLOAD_MB", "2048")) * 1024 * 1024


# Leading bytes of the formats policy accepts, by suffix (offset, bytes); any one of them will do.
IMAGE_MAGIC = {
    ".jpg": [(0, b"\xff\xd8\xff")], ".jpeg": [(0, b"\xff\xd8\xff")],
    ".png": [(0, b"\x89PNG\r\n\x1a\n")],
    ".tif": [(0, b"II*\x00"), (0, b"MM\x00*"), (0, b"II+\x00"), (0, b"MM\x00+")],
    ".bmp": [(0, b"BM")], ".gif": [(0, b"GIF87a"), (0, b"GIF89a")], ".webp": [(8, b"WEBP")],
}  # fmt: skip
IMAGE_MAGIC[".tiff"] = IMAGE_MAGIC[".tif"]
ISO_BOXES = [(4, b"ftyp"), (4, b"moov"), (4, b"mdat"), (4, b"wide"), (4, b"free"), (4, b"skip")]
FILM_MAGIC = {
    ".mp4": ISO_BOXES, ".m4v": ISO_BOXES, ".mov": ISO_BOXES,
    ".mkv": [(0, b"\x1a\x45\xdf\xa3")], ".webm": [(0, b"\x1a\x45\xdf\xa3")],
    ".avi": [(8, b"AVI ")], ".ogv": [(0, b"OggS")], ".wmv": [(0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11")],
    ".mpg": [(0, b"\x00\x00\x01\xba"), (0, b"\x00\x00\x01\xb3"), (0, b"\x47")],
    ".mpeg": [(0, b"\x00\x00\x01\xba"), (0, b"\x00\x00\x01\xb3"), (0, b"\x47")],
}  # fmt: skip


class RefusedMedia(ValueError):
    """A file the archive does not take; the message names the file and the reason."""


def kind_of(name: str | os.PathLike) -> str | None:
    """ "image", "film" or None (not a type the archive takes), from the file name's suffix."""
    suffix = PurePath(name).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in FILM_SUFFIXES:
        return "film"
    return None


def accepted_types() -> str:
    """The accepted suffixes, for messages: ".avi, .bmp, ..."."""
    return ", ".join(sorted(IMAGE_SUFFIXES | FILM_SUFFIXES))


def check_kind(name: str | os.PathLike) -> str:
    """ "image" or "film"; RefusedMedia naming the accepted types otherwise."""
    kind = kind_of(name)
    if kind is None:
        suffix = PurePath(name).suffix.lower() or "(none)"
        raise RefusedMedia(
            f"{PurePath(name).name}: unsupported file type {suffix}; expected one of {accepted_types()}"
        )
    return kind


def too_large(name: str | os.PathLike, size: str) -> str:
    """The refusal of a picture over the pixel limit, for the person who sent it: they cannot change the limit
    (COLORARCHIVE_MAX_MEGAPIXELS, an administrator's setting), so it names the limit and who can."""
    return (
        f"{name}: refused: the picture is too large ({size}) for this archive's limit of "
        f"{MAX_PIXELS / 1e6:.0f} megapixels; ask an administrator if it must be taken"
    )


def check_pixels(
    name: str | os.PathLike, width: int, height: int, error: type[RefusedMedia] = RefusedMedia
) -> None:
    """`error` when a picture of this size is over the pixel limit (call it with the header's size)."""
    if width <= 0 or height <= 0:
        raise error(f"{name}: no valid picture size ({width}x{height})")
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise error(too_large(name, f"{width * height / 1e6:.0f} megapixels, {width}x{height}"))


def check_size(name: str | os.PathLike, size: int) -> None:
    """RefusedMedia for an empty file or one over the upload limit."""
    if size <= 0:
        raise RefusedMedia(f"{PurePath(name).name}: the file is empty")
    if size > MAX_UPLOAD_BYTES:
        raise RefusedMedia(
            f"{PurePath(name).name}: {size / 1e6:.0f} MB is larger than the {MAX_UPLOAD_BYTES / 1e6:.0f} MB limit"
        )


def check_signature(head: bytes, name: str | os.PathLike, kind: str) -> None:
    """RefusedMedia unless `head` (a file's first 64 bytes) begins as an image (`kind` "image") or film of the
    format `name`'s suffix says; a suffix without a known signature passes (its header decides)."""
    suffix = PurePath(name).suffix.lower()
    signatures = (IMAGE_MAGIC if kind == "image" else FILM_MAGIC).get(suffix, [])
    if signatures and not any(head[offset : offset + len(magic)] == magic for offset, magic in signatures):
        what = "a picture" if kind == "image" else "a film"
        raise RefusedMedia(f"{name}: refused: the content is not {what} in the {suffix} format its name says")
