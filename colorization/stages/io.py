"""The photo stages: decode "image" and encode "image", thin adapters over `colorization.media`.

decode "image" reads one still image (see `media.read_image`: EXIF orientation applied, 8 or 16 bits) into a
one-frame `Decoded`; encode "image" writes JPEG, PNG, TIFF or WebP with an XMP provenance packet, atomically.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from colorization import provenance
from colorization.frames import Decoded, Frame
from colorization.media import atomic_write, encode_to, output_format, read_image
from colorization.media.bands import BANDED_PIXELS, Bands, open_banded, write_banded
from colorization.media.images import FORMATS, SIXTEEN_BIT, SUFFIXES, ImageError
from colorization.registry import register


@register("decode", "image")
class ImageDecoder:
    """path -> Decoded with one frame (the photo), read eagerly so a bad file fails here, not mid-pipeline.

    A picture of `banded_megapixels` or more that libvips reads (colorization.media.bands) is not held whole:
    the frame's image is the picture reduced (the network's input is made from it) and `info["full"]` the
    picture, which merge_luma merges and the encoder writes a band at a time."""

    def __init__(self, banded_megapixels: float = BANDED_PIXELS / 1e6):
        self.banded_pixels = int(float(banded_megapixels) * 1e6)

    def __call__(self, path: Path) -> Decoded:
        full = open_banded(path, self.banded_pixels)
        if full is not None:
            frame = Frame(
                index=0,
                image=full.reduced(),
                space="rgb",
                info={"gray": full.gray, "alpha": None, "full": full},
            )
            return Decoded(frames=iter([frame]), count=1, fps=None, info=full.info)
        loaded = read_image(path)
        frame = Frame(
            index=0, image=loaded.image, space="rgb", info={"gray": loaded.gray, "alpha": loaded.alpha}
        )
        return Decoded(frames=iter([frame]), count=1, fps=None, info=loaded.info)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


@register("encode", "image")
class ImageEncoder:
    """(frames, dst, decoded, context) -> {"path", "format", "bits"}: writes the first frame with provenance.

    `format`: "jpeg" | "png" | "tiff" | "webp" | "same" | None (from dst's suffix). An explicit format that
    disagrees with dst's suffix changes the suffix (the returned path says where the file went).
    """

    def __init__(self, format: str | None = None, quality: int = 92):
        self.format = format
        self.quality = int(quality)

    def __call__(self, frames: Iterator[Frame], dst: Path, decoded: Decoded, context: dict) -> dict:
        frame = None
        for item in frames:  # drain the stream (a photo has one frame) so progress counting sees it through
            frame = item if frame is None else frame
        if frame is None:
            raise ImageError(f"{dst}: nothing to write (no frame came out of the pipeline)")
        fmt = output_format(dst, self.format, decoded.info.get("format"))
        if SUFFIXES.get(dst.suffix.lower()) != fmt:
            dst = dst.with_suffix(FORMATS[fmt])
        src = Path(decoded.info.get("path", ""))
        if src and _same_file(src, dst):
            raise ImageError(f"{dst}: refusing to overwrite the original; choose another output folder")
        xmp = provenance.xmp_packet(
            model=context.get("model", "unknown"),
            model_version=context.get("model_version", ""),
            source_name=decoded.info.get("name", src.name),
            source_sha256=decoded.info.get("sha256", ""),
            extra={k: v for k, v in context.items() if k not in ("model", "model_version", "rights")},
            desaturated=bool(decoded.info.get("desaturated")),
            rights=context.get("rights"),
        )
        bits = 16 if frame.image.dtype == np.uint16 and fmt in SIXTEEN_BIT else 8
        size = (frame.image.shape[1], frame.image.shape[0])
        if isinstance(frame.image, Bands):  # a huge picture, merged band by band as it is written
            write_banded(dst, frame.image, fmt, xmp, quality=self.quality, exif=decoded.info.get("exif"))
            return {"path": str(dst), "format": fmt, "bits": bits, "size": size}
        atomic_write(
            dst,
            lambda fh: encode_to(
                fh,
                frame.image,
                fmt,
                xmp,
                alpha=frame.info.get("alpha"),
                quality=self.quality,
                exif=decoded.info.get("exif"),
            ),
        )
        return {"path": str(dst), "format": fmt, "bits": bits, "size": size}
