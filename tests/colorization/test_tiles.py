"""Deep zoom tiles (colorization.media.tiles): a IIIF Image API 3 level-0 pyramid of a real picture, every tile
where a level-0 viewer asks for it and of the size its address says, written whole or not at all."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorization.media.tiles import TILE_SIZE, layout, write_tiles
from tests.support.media import make_photo

BASE = "https://archive.example.org/iiif/image"


def expected_tiles(width: int, height: int, tile: int, factors: tuple[int, ...]) -> set[str]:
    """The canonical tile addresses (Image API 3 section 4) a level-0 viewer builds from info.json."""
    paths = set()
    for s in factors:
        for ty in range(math.ceil(height / (tile * s))):
            for tx in range(math.ceil(width / (tile * s))):
                x, y = tx * tile * s, ty * tile * s
                w, h = min(tile * s, width - x), min(tile * s, height - y)
                sw, sh = math.ceil(w / s), math.ceil(h / s)
                region = "full" if (x, y, w, h) == (0, 0, width, height) else f"{x},{y},{w},{h}"
                paths.add(f"{region}/{sw},{sh}/0/default.jpg")
    return paths


def test_layout_is_image_api_3_on_the_installed_libvips():
    assert layout() == "iiif3"


def test_pyramid_of_a_real_photograph(tmp_path):
    src = make_photo(tmp_path / "harbour.png", size=(1300, 700), gray=False)
    dst = tmp_path / "public" / "item-7"
    info = write_tiles(src, dst, BASE + "/")

    doc = json.loads((dst / "info.json").read_text())
    assert doc["@context"] == "http://iiif.io/api/image/3/context.json"
    assert doc["id"] == f"{BASE}/item-7"
    assert doc["type"] == "ImageService3" and doc["profile"] == "level0"
    assert doc["protocol"] == "http://iiif.io/api/image"
    assert (doc["width"], doc["height"]) == (1300, 700) == (info.width, info.height)
    assert doc["tiles"] == [{"scaleFactors": [1, 2, 4], "width": TILE_SIZE}]

    tiles = {p.relative_to(dst).as_posix() for p in dst.rglob("*.jpg")}
    assert tiles == expected_tiles(1300, 700, TILE_SIZE, (1, 2, 4))
    assert info.files == len(tiles) + 1  # and info.json
    for name in tiles:
        width, height = (int(v) for v in name.split("/")[1].split(","))
        with Image.open(dst / name) as tile:
            assert tile.format == "JPEG" and tile.size == (width, height), name
    # the top-left tile at full resolution holds the picture's own pixels (JPEG-close)
    with Image.open(src) as original, Image.open(dst / "0,0,512,512/512,512/0/default.jpg") as tile:
        diff = np.abs(
            np.asarray(original.convert("RGB").crop((0, 0, 512, 512)), float) - np.asarray(tile, float)
        )
        assert diff.mean() < 4
    assert not [p for p in dst.parent.iterdir() if p.name.startswith(".")], "nothing left beside the pyramid"


def test_sixteen_bit_grey_with_alpha_becomes_8_bit_tiles(tmp_path):
    grey = np.tile(np.linspace(0, 65535, 600, dtype=np.uint16), (300, 1))
    src = tmp_path / "scan.tif"
    Image.fromarray(grey).save(src)
    info = write_tiles(src, tmp_path / "out" / "item-1", BASE)
    assert (info.width, info.height) == (600, 300) and info.scale_factors == (1, 2)
    with Image.open(tmp_path / "out" / "item-1" / "0,0,512,300/512,300/0/default.jpg") as tile:
        row = np.asarray(tile.convert("L"), float)[150]
    assert row[0] < 10 and row[-1] > 200  # the whole 16-bit range, scaled to 8 bits


def test_a_new_pyramid_replaces_the_old_one_whole(tmp_path):
    dst = tmp_path / "public" / "result-3"
    write_tiles(make_photo(tmp_path / "big.png", size=(1300, 700)), dst, BASE)
    assert (dst / "1024,512,276,188").exists()
    write_tiles(make_photo(tmp_path / "small.png", size=(300, 200)), dst, BASE)
    assert json.loads((dst / "info.json").read_text())["width"] == 300
    assert not (dst / "1024,512,276,188").exists(), "no tile of the old picture stays"
    assert sorted(p.name for p in dst.parent.iterdir()) == ["result-3"]


def test_an_unreadable_file_is_refused_and_nothing_is_written(tmp_path):
    src = tmp_path / "broken.png"
    src.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not a picture" * 10)
    dst = tmp_path / "public" / "item-9"
    with pytest.raises(ValueError, match="broken.png: the deep zoom tiles could not be made"):
        write_tiles(src, dst, BASE)
    assert not dst.exists()
    assert not (tmp_path / "public").exists() or not list((tmp_path / "public").iterdir())


def test_a_truncated_file_leaves_no_half_written_pyramid(tmp_path):
    good = make_photo(tmp_path / "whole.png", size=(1300, 700))
    src = tmp_path / "truncated.png"
    src.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    dst = tmp_path / "public" / "item-4"
    with pytest.raises((ValueError, OSError), match="truncated.png"):
        write_tiles(src, dst, BASE)
    assert not dst.exists()
    assert not list((tmp_path / "public").iterdir()), "the temporary folder is removed too"


def test_src_is_never_modified(tmp_path):
    src = make_photo(tmp_path / "keep.png", size=(700, 500))
    before = Path(src).read_bytes()
    write_tiles(src, tmp_path / "out" / "item-2", BASE)
    assert Path(src).read_bytes() == before
