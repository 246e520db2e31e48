"""Web previews: a JPEG no larger than a given side, of a still image or of a film's poster frame."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from colorization.frames import FrameWindow
from colorization.media import policy
from colorization.media.files import atomic_write
from colorization.media.films import FilmReader, probe
from colorization.media.images import read_rgb8


COLOUR_SPREAD = 5.0  # chroma (8-bit Cb/Cr units) not explained by lightness, above which a picture is colour


def holds_colour(image) -> bool:
    """Whether an RGB picture holds colour rather than grey or one tone (sepia, cyanotype, a tinted print).

    In a grey or toned print the chroma (Cb, Cr) is a function of lightness: every pixel of one grey level has
    the same tint. Colour is what varies beyond that: the RMS of the chroma around its mean per lightness level.
    """
    import numpy as np

    small = image.convert("RGB").copy()
    small.thumbnail((256, 256))
    ycc = np.asarray(small.convert("YCbCr"), dtype=np.float64).reshape(-1, 3)
    level = (ycc[:, 0] // 8).astype(np.intp)  # 32 lightness levels
    count = np.bincount(level, minlength=32)
    spread = 0.0
    for channel in (ycc[:, 1], ycc[:, 2]):
        mean = np.bincount(level, channel, minlength=32) / np.maximum(count, 1)
        spread += float(((channel - mean[level]) ** 2).sum())
    return (spread / len(ycc)) ** 0.5 > COLOUR_SPREAD


def poster_frame(path: str | os.PathLike):
    """A representative frame of a film (about 10 % in) as 8-bit RGB, and what its header says."""
    import numpy as np

    from colorization.media.images import to8

    info = probe(path)
    target = int(info["frames"] * 0.1) if info["frames"] else 0
    decoded = FilmReader(prefetch=0, hash=False)(path, FrameWindow(0, target + 1))
    chosen = None
    try:
        for frame in decoded.frames:
            chosen = frame
    finally:
        decoded.close()
    if chosen is None:  # FilmReader raises for a film without frames; this is a guard, not a path
        raise policy.RefusedMedia(f"{path}: the film has no decodable frames")
    return np.ascontiguousarray(to8(chosen.image)), info


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
        rgb = read_rgb8(src)
        info = {"width": rgb.shape[1], "height": rgb.shape[0]}
    image = Image.fromarray(rgb, "RGB")
    info["is_colour"] = holds_colour(image)
    image.thumbnail((max_side, max_side))
    atomic_write(dst, lambda fh: image.save(fh, "JPEG", quality=88, optimize=True, progressive=True))
    return info
