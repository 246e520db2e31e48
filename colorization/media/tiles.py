"""Deep zoom: a IIIF Image API 3 level-0 tile pyramid, static files any web server or bucket can serve.

    write_tiles("scan.tif", Path("/srv/media/iiif/image/item-12"), "https://archive.example.org/iiif/image")

writes `item-12/info.json` (its `id` is `<base_url>/item-12`) and one JPEG per tile and scale under
`item-12/{x},{y},{w},{h}/{w},{h}/0/default.jpg`, the canonical URLs a level-0 viewer asks for. libvips'
`dzsave` makes the pyramid in one streaming pass (`layout="iiif3"`, libvips 8.11 and later; older ones
write Image API 2 with `layout="iiif"`). The folder appears whole or not at all: it is written under a
temporary name beside `dst` and renamed into place, replacing an older pyramid.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

TILE_SIZE = 512
JPEG_QUALITY = 85


@dataclass(frozen=True)
class TileInfo:
    """What a written pyramid holds: the image's size, the tile side and the scale factors (1, 2, 4, ...)."""

    path: Path
    width: int
    height: int
    tile_size: int
    scale_factors: tuple[int, ...]
    files: int


def _pyvips():
    import pyvips

    pyvips.cache_set_max(0)  # a path rewritten in place must never give the old picture
    return pyvips


def layout() -> str:
    """The newest IIIF layout the installed libvips writes: "iiif3" (Image API 3) or "iiif" (2)."""
    pyvips = _pyvips()
    return "iiif3" if (pyvips.version(0), pyvips.version(1)) >= (8, 11) else "iiif"


def _upright_8bit(src: Path):
    """`src` as libvips reads it, upright (EXIF orientation), 8-bit sRGB or grey, transparency over white."""
    pyvips = _pyvips()
    try:
        image = pyvips.Image.new_from_file(str(src), fail_on="error").autorot()
        if image.interpretation not in ("b-w", "srgb") or image.format != "uchar":
            image = image.colourspace("b-w" if image.bands <= 2 else "srgb")
        if image.hasalpha():
            image = image.flatten(background=[255] * (image.bands - 1))
        return image.cast("uchar")
    except pyvips.Error as exc:
        raise ValueError(f"{src.name}: the deep zoom tiles could not be made ({_first_line(exc)})") from None


def _first_line(exc: Exception) -> str:
    return next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)


def _dzsave(image, dst: Path, base_url: str, tile_size: int, src: Path) -> None:
    pyvips = _pyvips()
    try:
        image.dzsave(
            str(dst),
            layout=layout(),
            id=base_url.rstrip("/"),
            tile_size=tile_size,
            overlap=0,
            suffix=f".jpg[Q={JPEG_QUALITY},strip]",
        )
    except pyvips.Error as exc:  # a damaged file found while decoding, or the disk full
        raise OSError(f"{src.name}: the deep zoom tiles could not be written ({_first_line(exc)})") from None


def write_tiles(
    src: str | os.PathLike, dst: str | os.PathLike, base_url: str, tile_size: int = TILE_SIZE
) -> TileInfo:
    """Write the level-0 tile pyramid of the still image `src` into the folder `dst` (its name is the image's
    identifier), replacing what was there. `base_url` is the public address of the folder holding `dst`;
    info.json's `id` is `<base_url>/<dst name>`. ValueError naming the file when libvips cannot read it, OSError
    when the tiles cannot be written (nothing is left behind)."""
    src, dst = Path(src), Path(dst)
    image = _upright_8bit(src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}.incoming-"))
    old = dst.parent / f".{dst.name}.old-{work.name.rsplit('-', 1)[-1]}"
    try:
        _dzsave(image, work / dst.name, base_url, tile_size, src)
        written = work / dst.name
        info = json.loads((written / "info.json").read_text())
        files = sum(len(names) for _, _, names in os.walk(written))
        if dst.exists():  # an older pyramid: moved aside, the new one in, the old one removed
            os.replace(dst, old)
        os.replace(written, dst)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    tiles = info["tiles"][0]
    return TileInfo(
        path=dst,
        width=info["width"],
        height=info["height"],
        tile_size=tiles["width"],
        scale_factors=tuple(tiles["scaleFactors"]),
        files=files,
    )
