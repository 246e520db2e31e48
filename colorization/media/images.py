"""Still images in and out: any picture Pillow reads, upright, 8 or 16 bits; JPEG/PNG/TIFF/WebP with XMP out.

`read_image` decodes the first page of JPEG, PNG, TIFF (8/16 bit), WebP, BMP or GIF with the EXIF orientation
applied (grayscale, palette, RGBA and CMYK inputs too) after checking the header's size against the pixel
limit; `read_rgb8` is the same picture as plain 8-bit RGB (training, previews). `encode_to` writes 16 bits
where the source had them and the format allows, with an XMP provenance packet.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from colorization.media import policy
from colorization.media.files import sha256_file

# Pillow's own bomb check (in Image.open) uses this process-wide value: set here, once, to the one limit, so
# every caller in the process sees the same. read_image checks the header against the limit itself as well.
Image.MAX_IMAGE_PIXELS = policy.MAX_PIXELS
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, never a half-grey picture

# Output formats: file suffix -> Pillow format name; which hold 16-bit RGB and an alpha channel.
FORMATS = {"jpeg": ".jpg", "png": ".png", "tiff": ".tif", "webp": ".webp"}
SUFFIXES = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".tif": "tiff", ".tiff": "tiff", ".webp": "webp"}
SIXTEEN_BIT = {"png", "tiff"}
ALPHA = {"png", "tiff", "webp"}
# Pillow format name of a source -> our output format for `format="same"` (no XMP in BMP/GIF: PNG instead).
SAME_FORMAT = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "TIFF": "tiff", "WEBP": "webp"}


class ImageError(policy.RefusedMedia):
    """An input or output image problem, worded as one line that names the file and the reason."""


@dataclass
class LoadedImage:
    image: np.ndarray  # H x W x 3, uint8 or uint16 (a broadcast view for grayscale sources)
    gray: bool  # one channel (or three equal ones): `image` is a broadcast view of it
    alpha: np.ndarray | None
    info: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- reading
def orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an H x W (x C) array, as ImageOps.exif_transpose would."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: a.swapaxes(0, 1)[:, ::-1],
        7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
        8: lambda a: a.swapaxes(0, 1)[::-1],
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(arr)) if op else arr


def _read_rgb16(path: Path, fmt: str) -> np.ndarray:
    """16-bit RGB(A): Pillow reduces it to 8 bits, so read it with tifffile or OpenCV."""
    if fmt == "TIFF":
        import tifffile

        arr = tifffile.imread(path, key=0)
        if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[2] not in (3, 4):
            arr = np.moveaxis(arr, 0, -1)  # planar TIFF (one plane per channel)
    else:
        import cv2

        arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise OSError("OpenCV could not decode the 16-bit data")
        arr = arr[..., [2, 1, 0, 3][: arr.shape[2]]] if arr.ndim == 3 else arr
    return arr


COLOUR_SPREAD = (
    1.0  # chroma (8-bit Cb/Cr units) a toned print cannot explain, above which a picture is colour
)


def holds_colour(rgb: np.ndarray) -> bool:
    """Whether an RGB picture (H x W x 3, 8 or 16 bits) holds colour rather than grey or one tone (sepia,
    cyanotype, selenium): the one rule for "this original is in colour" (the portal's `is_colour` warning,
    and `desaturated` in what `read_image` says and the result's provenance).

    In a grey or toned print the chroma (Cb, Cr) is a function of lightness, the tone curve: every pixel of one
    grey level has the same tint, and every level the same hue. Colour is what departs from that, less what a
    print does too: noise (grain, JPEG, dust, scratches) changes from pixel to pixel, so departures are
    averaged over blocks (a sixteenth of the short side) first; and mixing (a scan or a resize averages dark
    and light tones into a grey whose tint is not the curve's) stays on the tone's hue, as far as the curve
    bends away from a straight line. Left are departures across the tone's hue, those along it beyond that
    bend, and levels of the opposite hue. Muted colour (an Autochrome's greens and blues, hand-tinting) leaves
    more than COLOUR_SPREAD, toned prints less (tests/colorization/test_colour_check.py, on real scans).
    """
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / 4_000_000)))  # a huge scan: every step-th pixel
    small = Image.fromarray(np.ascontiguousarray(to8(rgb[::step, ::step])), "RGB")
    small.thumbnail((256, 256))
    ycc = np.asarray(small.convert("YCbCr"), dtype=np.float64)
    height, width = ycc.shape[:2]
    chroma = ycc[..., 1:].reshape(-1, 2) - 128.0
    level = (ycc[..., 0].reshape(-1) // 8).astype(np.intp)  # 32 lightness levels
    count = np.bincount(level, minlength=32)
    curve = (
        np.stack([np.bincount(level, chroma[:, i], minlength=32) for i in (0, 1)], -1)
        / np.maximum(count, 1)[:, None]
    )
    tone = curve[level]  # each pixel's chroma if the picture were a toned print
    hue = np.linalg.eigh(tone.T @ tone)[1][:, 1]  # the main direction of the tone's chroma
    hue = hue if (tone @ hue).sum() >= 0 else -hue

    levels = np.flatnonzero(count > len(level) // 1000)
    along = curve[levels] @ hue
    bend = 0.0
    if len(levels) > 2:
        line = np.polyval(np.polyfit(levels, along, 1, w=np.sqrt(count[levels])), levels)
        bend = float(np.abs(along - line).max())

    b = max(1, min(height, width) // 16)
    blocks = (chroma - tone).reshape(height, width, 2)[: height // b * b, : width // b * b]
    blocks = blocks.reshape(height // b, b, width // b, b, 2).mean(axis=(1, 3)).reshape(-1, 2)
    across = blocks @ np.array([-hue[1], hue[0]])
    beyond = np.maximum(np.abs(blocks @ hue) - bend, 0.0)
    opposite = np.maximum(-(tone @ hue), 0.0)
    left = (across**2 + beyond**2).mean() + (opposite**2).mean()
    return float(np.sqrt(left)) > COLOUR_SPREAD


def _rawmode(im: Image.Image) -> str:
    """How the pixels are stored in the file (read before `load()`, which clears `tile`)."""
    if not im.tile:
        return ""
    args = im.tile[0].args
    return str(args[0] if isinstance(args, tuple) and args else args)


def _is_rgb16(im: Image.Image, rawmode: str) -> bool:
    """16-bit RGB(A) that Pillow would reduce to 8 bits: `_read_rgb16` reads it, as the file stores it."""
    return im.mode in ("RGB", "RGBA") and ";16" in rawmode and im.format in ("PNG", "TIFF")


def _to_array(im: Image.Image, path: Path, rawmode: str) -> tuple[np.ndarray, np.ndarray | None]:
    """A Pillow image in any mode -> (H x W gray or H x W x 3 RGB, uint8/uint16; alpha or None)."""
    mode = im.mode
    if _is_rgb16(im, rawmode):
        arr = _read_rgb16(path, im.format)
        if arr.dtype != np.uint16:
            arr = arr.astype(np.uint16)
        if arr.ndim == 3 and arr.shape[2] == 4:
            return arr[..., :3], arr[..., 3]
        return arr[..., :3], None
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16), None
    if mode == "I":  # 32-bit integer gray (16-bit PNGs in some Pillow versions)
        return np.clip(np.asarray(im), 0, 65535).astype(np.uint16), None
    if mode == "F":
        arr = np.asarray(im, dtype=np.float32)
        scale = 65535.0 if float(arr.max(initial=0.0)) <= 1.0 else 1.0
        return np.clip(arr * scale, 0, 65535).round().astype(np.uint16), None
    if mode == "L":
        return np.asarray(im), None
    if mode == "1":
        return np.asarray(im.convert("L")), None
    if mode in ("LA", "La"):
        la = np.asarray(im.convert("LA"))
        return la[..., 0], la[..., 1]
    if mode in ("P", "PA", "RGBA", "RGBa") or "transparency" in im.info:
        rgba = np.asarray(im.convert("RGBA"))
        alpha = rgba[..., 3] if rgba[..., 3].min() < 255 else None
        return rgba[..., :3], alpha
    return np.asarray(im.convert("RGB")), None  # RGB, CMYK, YCbCr, LAB, HSV


def read_image(path: str | os.PathLike) -> LoadedImage:
    """Decode the first page of a still image, upright, as RGB uint8/uint16; ImageError with a one-line reason."""
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: empty file (0 bytes)")
    limit = policy.MAX_PIXELS
    w = h = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # From an open file, not a path: given a path, Pillow memory-maps an uncompressed one-strip picture at
            # its upright size instead of the stored one, which scrambles a TIFF (grey, RGBA) with orientation 5-8.
            with open(path, "rb") as fh, Image.open(fh) as im:
                w, h = im.size
                if limit and w * h > limit:
                    raise Image.DecompressionBombError("over the limit")
                pages = getattr(im, "n_frames", 1)
                fmt = im.format
                mode = im.mode
                exif = im.getexif()
                orientation = int(exif.get(0x0112, 1) or 1)
                im.seek(0)
                rawmode = _rawmode(im)
                im.load()
                # Pillow 13 turns a TIFF upright while loading it and drops its tag; other formats, older Pillow and
                # what _read_rgb16 reads come as stored: turn those (once) below.
                stored = 0x0112 in im.getexif() or _is_rgb16(im, rawmode)
                arr, alpha = _to_array(im, path, rawmode)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow's own check ran first: it says the size
        pixels = w * h if w else int(found.group(1)) if found else 0
        size = f"{pixels / 1e6:.0f} megapixels" + (f", {w}x{h}" if w else "")
        raise ImageError(policy.too_large(path, size)) from None
    except UnidentifiedImageError:
        raise ImageError(
            f"{path}: not an image file Pillow can read (unrecognised or unsupported format)"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageError(f"{path}: corrupt or truncated image data ({reason})") from None
    if stored:
        arr = orient(arr, orientation)
        alpha = orient(alpha, orientation) if alpha is not None else None
    colour = arr.ndim == 3 and holds_colour(arr)
    if (
        arr.ndim == 3
        and np.array_equal(arr[..., 0], arr[..., 1])
        and np.array_equal(arr[..., 1], arr[..., 2])
    ):
        arr = np.ascontiguousarray(arr[..., 0])  # grey stored as RGB: keep one channel
    is_gray = arr.ndim == 2
    image = np.broadcast_to(arr[..., None], (*arr.shape, 3)) if is_gray else arr
    if orientation != 1:
        exif[0x0112] = 1  # the pixels are upright now
    info = {
        "path": str(path),
        "name": path.name,
        "sha256": sha256_file(path),
        "format": fmt,
        "mode": mode,
        "size": (image.shape[1], image.shape[0]),
        "bits": 16 if image.dtype == np.uint16 else 8,
        "pages": pages,
        "orientation": orientation,
        "desaturated": bool(colour),  # a colour source: only its lightness is kept
        "exif": exif,
    }
    return LoadedImage(image=image, gray=is_gray, alpha=alpha, info=info)


def read_rgb8(path: str | os.PathLike) -> np.ndarray:
    """The picture `read_image` reads, as a contiguous H x W x 3 uint8 RGB array (transparent areas over
    white); for training and previews, which want plain 8-bit colour."""
    loaded = read_image(path)
    return over_white(to8(loaded.image), loaded.alpha)


def over_white(rgb8: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """8-bit RGB with its transparent areas laid over white (`alpha`: 8 or 16 bits, or None), contiguous."""
    if alpha is not None:
        a = (alpha.astype(np.float32) / (65535.0 if alpha.dtype == np.uint16 else 255.0))[..., None]
        rgb8 = (rgb8 * a + 255.0 * (1.0 - a)).round().astype(np.uint8)
    return np.ascontiguousarray(rgb8)


def upright_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    """(width, height) of a picture stored as width x height once its EXIF orientation (1-8) is applied:
    orientations 5-8 turn it a quarter."""
    return (height, width) if orientation >= 5 else (width, height)


def check_header(source: str | os.PathLike | BinaryIO, name: str) -> tuple[int, int] | None:
    """(width, height) from the header of a file or an open binary file, without decoding: ImageError when
    that is over the pixel limit, None when Pillow does not recognise the data (the reader says why later)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source) as im:
                size = im.size
    except Image.DecompressionBombError as exc:  # Pillow's own check: over twice the limit
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = f"{int(found.group(1)) / 1e6:.0f} megapixels" if found else "over twice the limit"
        raise ImageError(policy.too_large(name, pixels)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    finally:
        if hasattr(source, "seek"):
            source.seek(0)
    policy.check_pixels(name, *size, error=ImageError)
    return size


# ---------------------------------------------------------------- writing
def output_format(dst: Path, fmt: str | None, source_format: str | None) -> str:
    """Our format name for a write: explicit `fmt`, "same" (the source's, PNG if it cannot hold XMP), or the suffix."""
    if fmt == "same":
        return SAME_FORMAT.get(source_format or "", "png")
    if fmt:
        fmt = {"jpg": "jpeg", "tif": "tiff"}.get(fmt.lower(), fmt.lower())
        if fmt not in FORMATS:
            raise ImageError(f"{dst}: unknown output format {fmt!r}; known: {sorted(FORMATS)} or 'same'")
        return fmt
    try:
        return SUFFIXES[dst.suffix.lower()]
    except KeyError:
        raise ImageError(
            f"{dst}: cannot tell the output format from the suffix {dst.suffix!r}; use .jpg, .png, .tif or .webp"
        ) from None


def output_path(
    src: Path, out_dir: Path, fmt: str = "jpeg", source_format: str | None = None, suffix: str = "-colorized"
) -> Path:
    """Where `colorize image` writes the result for `src`: OUT_DIR/<stem>-colorized.<ext>."""
    fmt = output_format(src, fmt, source_format) if fmt else "jpeg"
    return out_dir / f"{src.stem}{suffix}{FORMATS[fmt]}"


def source_format(path: Path) -> str | None:
    """The Pillow format name of a file, from its header (cheap); None when unreadable."""
    try:
        with Image.open(path) as im:
            return im.format
    except Exception:
        return None


def to8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _png_with_itxt(png: bytes, key: str, text: bytes) -> bytes:
    """Insert an uncompressed iTXt chunk right after IHDR (for PNGs that OpenCV wrote)."""
    import struct
    import zlib

    data = key.encode("latin-1") + b"\0\0\0\0\0" + text  # keyword, null, flag, method, lang null, tkey null
    chunk = (
        struct.pack(">I", len(data))
        + b"iTXt"
        + data
        + struct.pack(">I", zlib.crc32(b"iTXt" + data) & 0xFFFFFFFF)
    )
    ihdr_end = 8 + 4 + 4 + 13 + 4
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def encode_bytes(image: np.ndarray, fmt: str, xmp: bytes, **options: Any) -> bytes:
    """RGB uint8/uint16 array -> file bytes in `fmt`, with the XMP packet embedded (see encode_to)."""
    buf = io.BytesIO()
    encode_to(buf, image, fmt, xmp, **options)
    return buf.getvalue()


def encode_to(
    fh: BinaryIO,
    image: np.ndarray,
    fmt: str,
    xmp: bytes,
    *,
    alpha: np.ndarray | None = None,
    quality: int = 92,
    exif: Any = None,
) -> None:
    """Write an RGB uint8/uint16 array to a seekable binary file in `fmt`, with the XMP packet embedded.

    The 8-bit path hands the array to Pillow without a copy, so a 100-megapixel result is not held twice."""
    sixteen = image.dtype == np.uint16 and fmt in SIXTEEN_BIT
    if alpha is not None and fmt not in ALPHA:
        # JPEG has no alpha: composite over white so transparent areas do not show stray colours
        a = (alpha.astype(np.float32) / (65535.0 if alpha.dtype == np.uint16 else 255.0))[..., None]
        top = 65535.0 if image.dtype == np.uint16 else 255.0
        image = (image * a + top * (1.0 - a)).round().astype(image.dtype)
        alpha = None
    if alpha is not None:
        alpha = (
            alpha
            if (alpha.dtype == np.uint16) == sixteen
            else ((alpha.astype(np.uint16) * 257) if sixteen else to8(alpha))
        )
    if fmt == "tiff":
        import tifffile

        data = image if sixteen else to8(image)
        if alpha is not None:
            data = np.dstack([data, alpha])
        buf = io.BytesIO()  # tifffile wants a named file or an in-memory one, not an os.fdopen handle
        tifffile.imwrite(
            buf,
            np.ascontiguousarray(data),
            photometric="rgb",
            compression="zlib",
            extrasamples=[2] if alpha is not None else None,
            extratags=[(700, "B", len(xmp), xmp, True)],
        )
        fh.write(buf.getvalue())
        return
    if fmt == "png" and sixteen:
        import cv2

        data = np.ascontiguousarray(image[..., ::-1])
        if alpha is not None:
            data = np.dstack([data, alpha])
        ok, png = cv2.imencode(".png", data)
        if not ok:
            raise ImageError("OpenCV could not encode the 16-bit PNG")
        fh.write(_png_with_itxt(png.tobytes(), "XML:com.adobe.xmp", xmp))
        return
    rgb8 = np.ascontiguousarray(to8(image))
    pil = Image.frombuffer("RGB", (rgb8.shape[1], rgb8.shape[0]), rgb8, "raw", "RGB", 0, 1)  # shares memory
    if alpha is not None:
        pil.putalpha(Image.fromarray(np.ascontiguousarray(to8(alpha)), "L"))
    kwargs: dict[str, Any] = {}
    if exif is not None and len(exif):
        try:
            kwargs["exif"] = exif.tobytes()
        except Exception:  # odd maker notes etc.: provenance matters more than copying EXIF
            pass
    if fmt == "jpeg":
        # optimize=True buffers the whole image's coefficients (about 5 bytes/pixel): only for small images
        pil.save(
            fh, "JPEG", quality=quality, optimize=pil.width * pil.height <= 16_000_000, xmp=xmp, **kwargs
        )
    elif fmt == "webp":
        pil.save(fh, "WEBP", quality=quality, xmp=xmp, **kwargs)
    else:
        from PIL.PngImagePlugin import PngInfo

        meta = PngInfo()
        meta.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8"), zip=False)
        pil.save(fh, "PNG", pnginfo=meta, compress_level=6, **kwargs)
