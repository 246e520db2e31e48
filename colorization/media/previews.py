"""Web previews: a JPEG no larger than a given side, of a still image or of a film's poster frame."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from colorization.frames import FrameWindow
from colorization.media import policy
from colorization.media.containers import probe
from colorization.media.files import atomic_write
from colorization.media.film_reader import FilmReader
from colorization.media.images import check_header, holds_colour, read_rgb8


def film_frame(path: str | os.PathLike, index: int):
    """Frame `index` of a film (counted from 0 in presentation order) as 8-bit RGB, decoded from the keyframe
    before it (a seek), not from the film's start."""
    import numpy as np

    from colorization.media.images import to8

    decoded = FilmReader(prefetch=0, hash=False)(path, FrameWindow(index, index + 1))
    chosen = None
    try:
        for frame in decoded.frames:
            chosen = frame
    finally:
        decoded.close()
    if chosen is None:  # FilmReader raises for a film without frames; this is a guard, not a path
        raise policy.RefusedMedia(f"{path}: the film has no frame {index}")
    return np.ascontiguousarray(to8(chosen.image))


def poster_index(frames: int | None) -> int:
    """Which frame is a film's poster (its web preview): about 10 % in."""
    return int(frames * 0.1) if frames else 0


def poster_frame(path: str | os.PathLike):
    """A representative frame of a film (`poster_index`) as 8-bit RGB, and what its header says."""
    info = probe(path)
    return film_frame(path, poster_index(info["frames"])), info


def pyramid_level(src: str | os.PathLike, max_side: int):
    """(8-bit RGB array, (width, height) of the upright original) from the smallest reduced-resolution level of
    a pyramidal TIFF whose long side still covers max_side, as tifffile reads it, turned upright; None when the
    file has no such level or holds what only the full reader handles (alpha, a palette, CMYK, float samples)."""
    import numpy as np
    import tifffile

    from colorization.media.images import orient, to8, upright_size

    try:
        with tifffile.TiffFile(src) as tif:
            series = tif.series[0]
            if series.axes not in ("YX", "YXS"):
                return None
            covering = [lvl for lvl in series.levels[1:] if max(lvl.shape[:2]) >= max_side]
            if not covering:
                return None
            level = min(covering, key=lambda lvl: lvl.shape[0] * lvl.shape[1])
            page = level.keyframe
            plain = (page.photometric, page.samplesperpixel) in (
                (tifffile.PHOTOMETRIC.MINISBLACK, 1),
                (tifffile.PHOTOMETRIC.RGB, 3),
            )
            if not plain or page.dtype not in (np.uint8, np.uint16):
                return None
            rgb = level.asarray()
            orientation = int(series.keyframe.tags.valueof(274, 1))  # TIFF Orientation, as EXIF numbers it
            height, width = series.levels[0].shape[:2]  # as stored
    except (
        Exception
    ):  # whatever tifffile makes of a damaged file: the full reader decodes it and says what is wrong
        return None
    rgb = to8(rgb)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    return np.ascontiguousarray(orient(rgb, orientation)), upright_size(width, height, orientation)


def _pyvips():
    """The pyvips module, or None where it (or the libvips it loads) is not installed: previews then decode
    PNG and flat TIFF whole, as before."""
    try:
        import pyvips
    except (ImportError, OSError):
        return None
    pyvips.cache_set_max(0)  # no operation cache: a path rewritten in place must never give the old picture
    # One libvips thread per preview: a PNG inflates in one sequential pass anyway, and each further thread
    # would hold its own band of full-width lines (memory that grows with the cores, not with the preview).
    pyvips.concurrency_set(1)
    return pyvips


def streamed(src: Path, max_side: int, size: tuple[int, int]):
    """(8-bit RGB array, (width, height) of the upright original) from libvips' thumbnail of a PNG, a flat
    TIFF or a WebP: it decodes the file in one pass, line by line, shrinking as it goes, so only a few lines of the
    full picture are ever in memory. The exceptions: an interlaced PNG, which libvips decodes whole at its stored
    bytes per pixel, and a WebP, whose first frame libvips composes at 4 bytes per pixel. The EXIF or
    TIFF orientation is applied by the thumbnail. None when pyvips is missing, the file holds what only the
    full reader handles (CMYK, float samples, not the picture whose header was checked), or libvips cannot
    decode it (the full reader then says what is wrong).
    """
    import numpy as np

    from colorization.media.images import over_white, to8, upright_size

    pyvips = _pyvips()
    if pyvips is None:
        return None
    try:
        header = pyvips.Image.new_from_file(str(src))  # the header only; pixels are read by the thumbnail
        plain = (
            header.interpretation in ("b-w", "grey16", "srgb", "rgb16")
            and header.format in ("uchar", "ushort")
            and header.bands in (1, 2, 3, 4)
            and sorted((header.width, header.height)) == sorted(size)  # Pillow gives a TIFF's upright size
        )
        if not plain:
            return None
        orientation = header.get("orientation") if "orientation" in header.get_fields() else 1
        small = pyvips.Image.thumbnail(str(src), max_side, height=max_side, size="down", fail_on="error")
        pixels = small.numpy()
    except pyvips.Error:
        return None
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    colour, alpha = (pixels[..., :-1], pixels[..., -1]) if pixels.shape[2] in (2, 4) else (pixels, None)
    rgb = to8(colour)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    return over_white(rgb, alpha), upright_size(header.width, header.height, orientation)


BAND_PIXELS = 4_000_000  # pixels of the full picture turned into RGB at a time by reduced_in_bands


def reduced_in_bands(im, src: Path, max_side: int):
    """(8-bit RGB array, (width, height)) of a palette or grey picture (GIF, BMP) that Pillow has opened, reduced
    by the whole factor Image.thumbnail would reduce it by before its last resampling; None when that factor is
    1 (a picture under four times max_side: read_rgb8 decodes it whole, as before).

    Pillow decodes these formats only whole, but at their stored byte per pixel: the RGB the full reader makes
    (4 bytes per pixel in Pillow, transparency over white) is made a band at a time and reduced by block
    averages (Image.reduce, bands a multiple of the factor high), so the picture is held once at 1 byte per pixel.
    """
    import numpy as np
    from PIL import Image

    from colorization.media.images import _to_array, over_white

    width, height = im.size
    scale = min(max_side / width, max_side / height, 1.0)
    factor = (int(1 / scale / 2) or 1) if scale < 1.0 else 1  # Image.thumbnail's reducing_gap of 2
    if factor == 1:
        return None
    im.load()
    rows = factor * max(1, BAND_PIXELS // (width * factor))
    bands = []
    for top in range(0, height, rows):
        part, alpha = _to_array(im.crop((0, top, width, min(height, top + rows))), src, "")
        if part.ndim == 2:
            part = np.repeat(part[..., None], 3, axis=2)
        rgb = Image.fromarray(over_white(part, alpha), "RGB")
        bands.append(np.asarray(rgb.reduce(factor)))
    return np.ascontiguousarray(np.concatenate(bands)), (width, height)


def decode_for_preview(src: str | os.PathLike, max_side: int):
    """(8-bit RGB array, (width, height) of the upright original) for a preview no larger than max_side.

    A JPEG decodes reduced: Pillow's draft lets the DCT scale it by 1/2, 1/4 or 1/8 while decoding (never below
    max_side), so a scan of hundreds of megapixels never lands in memory at full size. A pyramidal TIFF (tiled,
    with reduced-resolution levels, as image servers keep masters) is read from its smallest level that covers
    max_side. A PNG, a flat TIFF or a WebP goes through libvips' thumbnail (`streamed`), shrunk while it decodes.
    A palette or grey GIF or BMP is decoded by Pillow at its stored byte per pixel and reduced in bands
    (`reduced_in_bands`). Other pictures, and all of these where pyvips is missing or the picture is small,
    decode whole through read_rgb8 (16-bit, alpha, orientation), after the same header check of the pixel limit.
    """
    import numpy as np
    from PIL import Image, ImageOps

    src = Path(src)
    size = check_header(src, src.name)  # the one pixel limit, from the header, before any pixel is decoded
    if size is not None:
        try:
            with Image.open(src) as im:
                reduced = pyramid_level(src, max_side) if im.format == "TIFF" else None
                if reduced is None and im.format in ("PNG", "TIFF", "WEBP"):
                    reduced = streamed(src, max_side, size)
                if reduced is None and im.format in ("GIF", "BMP") and im.mode in ("P", "L", "1"):
                    reduced = reduced_in_bands(im, src, max_side)
                if reduced is not None:
                    return reduced
                if im.format == "JPEG" and im.mode in ("L", "RGB"):
                    scale = min(1.0, max_side / max(im.size))  # the longest side only needs max_side
                    im.draft(im.mode, (math.ceil(im.width * scale), math.ceil(im.height * scale)))
                    stored = im.size
                    upright = ImageOps.exif_transpose(im)
                    width, height = size if upright.size == stored else size[::-1]
                    return np.ascontiguousarray(np.asarray(upright.convert("RGB"))), (width, height)
        except (OSError, SyntaxError, ValueError):
            pass  # a damaged file: read_rgb8 decodes it again and says what is wrong in its words
    rgb = read_rgb8(src)
    return rgb, (rgb.shape[1], rgb.shape[0])


def write_preview(src: str | os.PathLike, dst: str | os.PathLike, max_side: int) -> dict[str, Any]:
    """Write a JPEG of `src` (a still image, or a film's poster frame) no larger than max_side, atomically;
    returns width and height (and for films frame_count and duration) of the source, and whether it holds
    colour (`is_colour`)."""
    from PIL import Image

    src = Path(src)
    if policy.kind_of(src) == "film":
        rgb, film = poster_frame(src)
        info = {
            "width": film["width"],
            "height": film["height"],
            "frame_count": film["frames"],
            "duration": film["duration"],
        }
    else:
        rgb, (width, height) = decode_for_preview(src, max_side)
        info = {"width": width, "height": height}
    info["is_colour"] = holds_colour(rgb)
    image = Image.fromarray(rgb, "RGB")
    image.thumbnail((max_side, max_side))
    atomic_write(dst, lambda fh: image.save(fh, "JPEG", quality=88, optimize=True, progressive=True))
    return info
