"""Huge pictures in bounded memory: read reduced for the network, and at full resolution a band at a time.

A picture of BANDED_PIXELS or more is never held whole (`open_banded`): libvips reads it reduced (`reduced`,
shrink-on-load where the format allows) for the network input, and top to bottom in bands of full-width rows
(`bands`) for the full-resolution merge. The result is written band by band (`write_banded`): a PNG here,
other formats by libvips, into which the bands stream as an uncompressed PNG and which encodes them as they
arrive. What stays whole is what a decoder holds: libwebp's lossless decoder keeps the picture (4 bytes a pixel).
A 16-bit picture's reduced copy is 8-bit (libvips' thumbnail): the network's input, not the result.

Pictures only Pillow reads (BMP, CMYK, an alpha channel, an EXIF orientation other than upright) go through
`images.read_image` whole, whatever their size.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colorization.media import policy
from colorization.media.files import atomic_path, sha256_file
from colorization.media.images import ImageError, holds_colour

BANDED_PIXELS = 50_000_000  # from this size on, `colorize image` reads and writes a picture in bands
BAND_PIXELS = 1_000_000  # full-resolution pixels per band (merge_luma's stripes: 2 MP)
REDUCED_SIDE = 2048  # the longer side of the reduced picture the network input is made from (at most 448)


def _pyvips():
    import pyvips

    pyvips.cache_set_max(0)  # a path rewritten in place must never give the old picture
    return pyvips


def _damaged(path: Path, exc: Exception) -> ImageError:
    reason = str(exc).strip().splitlines()[-1].strip() if str(exc).strip() else type(exc).__name__
    return ImageError(f"{path}: corrupt or truncated image data ({reason})")


@dataclass
class BandedPicture:
    """A picture on disk, upright as stored, read through libvips: 1 (grey) or 3 (RGB) bands of 8 or 16 bits."""

    path: Path
    width: int
    height: int
    gray: bool
    dtype: type
    info: dict[str, Any]  # what images.read_image says about a picture (path, sha256, format, ...)

    def _rows_per_band(self) -> int:
        return max(1, BAND_PIXELS // self.width)

    def reduced(self, max_side: int = REDUCED_SIDE) -> np.ndarray:
        """The picture shrunk so its longer side is at most `max_side`, as H x W x 3 (grey: a broadcast view);
        `info["desaturated"]` says whether it holds colour (images.holds_colour, as read_image says it)."""
        pyvips = _pyvips()
        try:
            small = pyvips.Image.thumbnail(
                str(self.path), max_side, height=max_side, size="down", no_rotate=True, fail_on="error"
            )
            pixels = small.numpy()
        except pyvips.Error as exc:
            raise _damaged(self.path, exc) from None
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        if self.gray:
            return np.broadcast_to(pixels[..., :1], (*pixels.shape[:2], 3))
        rgb = np.ascontiguousarray(pixels[..., :3])
        self.info["desaturated"] = holds_colour(rgb)
        return rgb

    def bands(self) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, rows) of the full-resolution picture, top to bottom: H x W (grey) or H x W x 3 arrays."""
        pyvips = _pyvips()
        rows = self._rows_per_band()
        try:
            image = pyvips.Image.new_from_file(str(self.path), access="sequential", fail_on="error")
            for start in range(0, self.height, rows):
                stop = min(self.height, start + rows)
                band = image.crop(0, start, self.width, stop - start).numpy()
                yield start, band if band.ndim == 2 or not self.gray else band[..., 0]
        except pyvips.Error as exc:
            raise _damaged(self.path, exc) from None


@dataclass
class Bands:
    """A full-resolution result made a band at a time: `make()` yields its H x W x 3 bands top to bottom."""

    width: int
    height: int
    dtype: type
    make: Callable[[], Iterator[np.ndarray]]

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, 3)


def open_banded(path: str | os.PathLike, banded_pixels: int = BANDED_PIXELS) -> BandedPicture | None:
    """The picture at `path` for banded reading when it has `banded_pixels` or more and libvips reads it as
    plain grey or RGB, upright as stored; None otherwise (then `read_image` reads it whole, and says what is
    wrong with a file that is damaged, over the pixel limit or not a picture)."""
    import warnings

    from PIL import Image

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with open(path, "rb") as fh, Image.open(fh) as im:
                width, height = im.size
                if width * height < banded_pixels or width * height > policy.MAX_PIXELS:
                    return None
                exif = im.getexif()
                orientation = int(exif.get(0x0112, 1) or 1)
                fmt, mode, pages = im.format, im.mode, getattr(im, "n_frames", 1)
        if orientation != 1 or "transparency" in im.info:
            return None
        pyvips = _pyvips()
        header = pyvips.Image.new_from_file(str(path))
    except Exception:  # noqa: BLE001 (any reason: the whole-picture reader reads it and says what is wrong)
        return None
    plain = (
        header.interpretation in ("b-w", "grey16", "srgb", "rgb16")
        and header.format in ("uchar", "ushort")
        and header.bands in (1, 3)
        and (header.width, header.height) == (width, height)
        and ("orientation" not in header.get_fields() or header.get("orientation") == 1)
    )
    if not plain:
        return None
    dtype = np.uint16 if header.format == "ushort" else np.uint8
    picture = BandedPicture(path, width, height, header.bands == 1, dtype, {})
    picture.info = {
        "path": str(path),
        "name": path.name,
        "sha256": sha256_file(path),
        "format": fmt,
        "mode": mode,
        "size": (width, height),
        "bits": 16 if dtype is np.uint16 else 8,
        "pages": pages,
        "orientation": orientation,
        "desaturated": False,  # set by `reduced`, from the reduced picture
        "exif": exif,
        "banded": True,
    }
    return picture


# ---------------------------------------------------------------- writing
def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _png_stream(result: Bands, level: int = 0, xmp: bytes = b"", exif: bytes = b"") -> Iterator[bytes]:
    """`result` as an RGB PNG, row by row: stored without compression (level 0) it is the form libvips reads
    as a stream; at level 6 with the XMP packet (an uncompressed iTXt chunk, as `images.encode_to` writes it)
    and the EXIF (eXIf), it is the PNG output itself."""
    depth = 16 if result.dtype == np.uint16 else 8
    head = b"\x89PNG\r\n\x1a\n" + _chunk(
        b"IHDR", struct.pack(">IIBBBBB", result.width, result.height, depth, 2, 0, 0, 0)
    )
    if xmp:
        head += _chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + xmp)
    if exif:
        head += _chunk(b"eXIf", exif.removeprefix(b"Exif\x00\x00"))
    yield head
    deflate = zlib.compressobj(level)
    above = None  # the row above the band, for the "Up" filter (compressed output only)
    for band in result.make():
        rows = np.ascontiguousarray(band.astype(">u2") if depth == 16 else band).reshape(band.shape[0], -1)
        data = rows.view(np.uint8)
        lines = np.zeros((data.shape[0], data.shape[1] + 1), np.uint8)  # filter byte 0: None
        if level:
            previous = np.concatenate([above if above is not None else np.zeros_like(data[:1]), data[:-1]])
            lines[:, 0], lines[:, 1:] = 2, data - previous  # "Up": each byte less the one above (mod 256)
            above = data[-1:].copy()
        else:
            lines[:, 1:] = data
        yield _chunk(b"IDAT", deflate.compress(lines.tobytes()))
    yield _chunk(b"IDAT", deflate.flush()) + _chunk(b"IEND", b"")


class _StreamReader:
    """read(size) over an iterator of byte strings, for a libvips custom source."""

    def __init__(self, parts: Iterator[bytes]):
        self.parts, self.held = parts, bytearray()
        self.error: Exception | None = None  # what stopped the parts (libvips only sees the stream end)

    def read(self, size: int) -> bytes:
        while len(self.held) < size and self.error is None:
            try:
                part = next(self.parts, None)
            except Exception as exc:  # noqa: BLE001 (raised again by write_banded, in its own words)
                self.error, part = exc, None
            if part is None:
                break
            self.held += part
        out = bytes(self.held[:size])
        del self.held[:size]
        return out


def write_banded(
    dst: str | os.PathLike, result: Bands, fmt: str, xmp: bytes, *, quality: int = 92, exif: Any = None
) -> None:
    """Write `result` to `dst` atomically in `fmt` ("jpeg", "png", "tiff", "webp") with the XMP packet (and the
    EXIF, but in TIFF), holding a band at a time; the settings match `images.encode_to`'s (JPEG 4:2:0 chroma,
    zlib TIFF, 16 bits kept in PNG and TIFF, 8 in JPEG and WebP)."""
    exif_bytes = b""
    if exif is not None and len(exif) and fmt != "tiff":
        try:
            exif_bytes = exif.tobytes()
        except Exception:  # noqa: BLE001 (odd maker notes: provenance matters more than copying EXIF)
            pass
    if fmt == "png":  # written here, a band at a time (libvips' PNG writer leaves the XMP packet out)
        with atomic_path(dst) as tmp, open(tmp, "wb") as fh:
            for part in _png_stream(result, 6, xmp, exif_bytes):
                fh.write(part)
        return
    pyvips = _pyvips()
    reader = _StreamReader(_png_stream(result))
    source = pyvips.SourceCustom()
    source.on_read(reader.read)
    with atomic_path(dst) as tmp:
        try:
            image = pyvips.Image.new_from_source(source, "", access="sequential")
            if image.format == "ushort" and fmt not in ("png", "tiff"):
                image = ((image + 128) / 257).cast("uchar")  # as images.to8
            image = image.copy()
            image.set_type(pyvips.GValue.blob_type, "xmp-data", xmp)
            if exif_bytes:
                image.set_type(pyvips.GValue.blob_type, "exif-data", exif_bytes)
            target = pyvips.Target.new_to_file(str(tmp))
            if fmt == "jpeg":
                image.jpegsave_target(target, Q=quality, subsample_mode="on")
            elif fmt == "tiff":
                image.tiffsave_target(target, compression="deflate")
            else:
                image.webpsave_target(target, Q=quality)
        except pyvips.Error as exc:
            if reader.error is not None:  # reading or merging the picture failed, not the writing
                raise reader.error from None
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "libvips error"
            raise ImageError(f"{dst}: could not write the picture ({reason})") from None
