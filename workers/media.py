"""Thumbnails, web previews and film poster frames (cpu queue). Pillow and PyAV load inside functions."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from workers.files import local_path, scratch, store

log = logging.getLogger("workers")
THUMB_SIDE = 480
PREVIEW_SIDE = 1600
MAX_PIXELS = 400_000_000  # larger images are refused as likely decompression bombs
COLOUR_SPREAD = 5.0  # chroma (8-bit Cb/Cr units) not explained by lightness, above which a picture is colour
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".m4v", ".ogv"}


def _to_rgb8(image):
    """Any Pillow mode (16-bit greyscale scans included) as 8-bit RGB, without clipping 16-bit data."""
    import numpy as np
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.uint32)
        peak = 65535 if arr.max() > 255 else 255
        arr = (arr.astype(np.float32) * (255.0 / peak)).clip(0, 255).astype(np.uint8)
        image = Image.fromarray(arr, "L")
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def open_image(path: Path):
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        image = Image.open(path)
        image.load()
    except Image.DecompressionBombError:
        raise ValueError(
            f"{path.name}: the image is too large to process (over {MAX_PIXELS:,} pixels)"
        ) from None
    except Exception as exc:
        raise ValueError(f"{path.name}: not a readable image ({exc})") from None
    return _to_rgb8(ImageOps.exif_transpose(image))


def poster_frame(path: Path):
    """A representative frame (about 10 % in) and what PyAV knows about the film."""
    import av
    from PIL import Image

    try:
        container = av.open(str(path))
    except Exception as exc:
        raise ValueError(f"{path.name}: not a readable video ({exc})") from None
    with container:
        if not container.streams.video:
            raise ValueError(f"{path.name}: the file has no video stream")
        stream = container.streams.video[0]
        frames = stream.frames or None
        duration = (
            float(stream.duration * stream.time_base)
            if stream.duration
            else (container.duration / 1e6 if container.duration else None)
        )
        target = int(frames * 0.1) if frames else 0
        chosen = None
        try:
            for i, frame in enumerate(container.decode(stream)):
                chosen = frame
                if i >= target:
                    break
        except Exception as exc:
            if chosen is None:
                raise ValueError(f"{path.name}: the video could not be decoded ({exc})") from None
        if chosen is None:
            raise ValueError(f"{path.name}: the video has no decodable frames")
        image = Image.fromarray(chosen.to_ndarray(format="rgb24"))
        return image, {
            "frame_count": frames,
            "duration": duration,
            "width": stream.width,
            "height": stream.height,
        }


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


def write_preview(src: Path, dst: Path, max_side: int) -> dict:
    """A JPEG no larger than max_side (a poster frame for films), written atomically."""
    if src.suffix.lower() in VIDEO_SUFFIXES:
        image, info = poster_frame(src)
    else:
        image = open_image(src)
        info = {"width": image.width, "height": image.height}
    info["is_colour"] = holds_colour(image)
    image.thumbnail((max_side, max_side))
    tmp = dst.with_name(dst.name + ".part")
    image.save(tmp, "JPEG", quality=88, optimize=True, progressive=True)
    os.replace(tmp, dst)
    return info


def make_previews(item_id: int) -> None:
    from portal.catalog.models import Item

    item = Item.objects.filter(pk=item_id).first()
    if item is None:
        return
    try:
        with local_path(item.original) as src, scratch() as tmp:
            # Keep the original's name for error messages rather than the storage's hashed path.
            named = tmp / item.original_name
            os.symlink(src, named)
            preview = tmp / "preview.jpg"
            info = write_preview(named, preview, PREVIEW_SIDE)
            thumb = tmp / "thumb.jpg"
            write_preview(preview, thumb, THUMB_SIDE)
            store(item.preview, f"{Path(item.original_name).stem}-preview.jpg", preview)
            store(item.thumbnail, f"{Path(item.original_name).stem}-thumb.jpg", thumb)
        for key in ("width", "height", "frame_count", "duration", "is_colour"):
            if info.get(key) is not None:
                setattr(item, key, info[key])
        item.media_error = ""
    except ValueError as exc:
        log.warning("previews for item %s: %s", item_id, exc)
        item.media_error = str(exc)
    item.save(
        update_fields=[
            "preview", "thumbnail", "width", "height", "frame_count", "duration", "is_colour", "media_error"
        ]
    )  # fmt: skip
