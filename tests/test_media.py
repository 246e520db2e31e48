"""The media package: one policy for every reader, one way up for training and inference, atomic writes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorization import media
from colorization.color import rgb_to_lab
from colorization.media import policy


def upright_and_tagged(path: Path) -> np.ndarray:
    """Save a colour photo stored sideways with EXIF orientation 6 (display: rotate 90 degrees clockwise);
    returns the upright picture: 64 wide, 96 tall, red above, blue below."""
    upright = np.zeros((96, 64, 3), np.uint8)
    upright[:48] = (200, 40, 40)
    upright[48:] = (40, 60, 200)
    stored = np.rot90(upright, 1)  # what the camera wrote: the same picture turned a quarter to the left
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.ascontiguousarray(stored)).save(path, "JPEG", quality=98, exif=exif.tobytes())
    return upright


def test_accepted_types_are_one_list():
    from colorization import cli  # noqa: F401  (the command line's folder scan reads the policy)
    from training import build_dataset

    assert build_dataset.IMAGE_SUFFIXES is policy.IMAGE_SUFFIXES
    assert build_dataset.VIDEO_SUFFIXES is policy.FILM_SUFFIXES
    assert build_dataset.MAX_PIXELS == policy.MAX_PIXELS
    assert not policy.IMAGE_SUFFIXES & policy.FILM_SUFFIXES
    assert policy.kind_of("reel.GIF") == "image" and policy.kind_of("reel.webm") == "film"
    with pytest.raises(policy.RefusedMedia, match=r"notes\.docx: unsupported file type \.docx"):
        policy.check_kind("notes.docx")


def test_training_and_inference_read_a_tagged_photo_the_same_way_up(tmp_path):
    from training.build_dataset import read_image as training_read

    upright = upright_and_tagged(tmp_path / "tagged.jpg")
    for rgb in (training_read(tmp_path / "tagged.jpg"), media.read_image(tmp_path / "tagged.jpg").image):
        assert rgb.shape == upright.shape
        assert np.abs(rgb.astype(int) - upright).mean() < 3  # JPEG's loss, not a turn


def test_a_tagged_photo_trains_upright(tmp_path):
    from training.build_dataset import build

    folder = tmp_path / "photos"
    folder.mkdir()
    upright_and_tagged(folder / "tagged.jpg")
    build([folder], tmp_path / "frames", person_filter=False, splits=(0.0, 0.0, 1.0))
    b = np.load(tmp_path / "frames" / "shard_00000_ab.npy")[0, 1].astype(float)  # b: red > 0, blue < 0
    n = b.shape[0] * 100 // 224  # the frame's size: a small photo is stored at 128 px
    top, bottom, left, right = b[:n].mean(), b[-n:].mean(), b[:, :n].mean(), b[:, -n:].mean()
    assert top - bottom > 50  # red above blue, as the photo is seen
    assert abs(left - right) < 5  # not turned: a sideways crop would put red on one side


def test_a_tagged_photo_is_colorized_upright(tmp_path, tiny_model):
    from colorization import colorize_file

    upright = upright_and_tagged(tmp_path / "tagged.jpg")
    result = colorize_file(tmp_path / "tagged.jpg", tmp_path / "out.png", model=str(tiny_model))
    with Image.open(result.dst) as im:
        out = np.asarray(im.convert("RGB"))
    assert out.shape == upright.shape  # 64 wide, 96 tall: as the photo is seen

    def lightness(rgb: np.ndarray) -> np.ndarray:  # only colour is added: the lightness is the original's
        return rgb_to_lab(rgb.astype(np.float32) / 255.0)[..., 0]

    assert np.abs(lightness(out) - lightness(upright)).mean() < 3


def test_pixel_limit_is_checked_from_the_header_before_decoding(tmp_path):
    big = tmp_path / "big.png"
    side = int((policy.MAX_PIXELS * 1.1) ** 0.5)
    Image.MAX_IMAGE_PIXELS, old = None, Image.MAX_IMAGE_PIXELS
    try:
        Image.new("1", (side, side)).save(big)
    finally:
        Image.MAX_IMAGE_PIXELS = old
    with pytest.raises(media.ImageError, match="too large .* for this archive.s limit of"):
        media.check_header(io.BytesIO(big.read_bytes()), "big.png")
    with pytest.raises(media.ImageError, match="too large .* for this archive.s limit of"):
        media.read_image(big)
    assert Image.MAX_IMAGE_PIXELS == policy.MAX_PIXELS  # Pillow's global holds the one limit
    assert media.check_header(io.BytesIO(b"not a picture"), "x.png") is None  # left to the reader


def test_atomic_write_leaves_nothing_on_error_and_keeps_the_old_file(tmp_path):
    dst = tmp_path / "out" / "result.bin"
    media.atomic_write(dst, b"first")
    dst.chmod(0o640)

    def fail(fh):
        fh.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        media.atomic_write(dst, fail)
    assert dst.read_bytes() == b"first" and sorted(p.name for p in dst.parent.iterdir()) == ["result.bin"]
    media.atomic_write(dst, b"second")
    assert dst.read_bytes() == b"second" and dst.stat().st_mode & 0o777 == 0o640
    assert media.sha256_file(dst) == media.sha256_chunks([b"sec", b"ond"])
    with open(dst, "rb") as fh:
        assert media.sha256_stream(fh) == (media.sha256_file(dst), 6)
        fh.seek(3)
        assert media.sha256_stream(fh) == (media.sha256_chunks([b"ond"]), 3)  # from where it stands


def test_a_large_jpeg_is_decoded_reduced_for_its_preview(tmp_path):
    from colorization.media.previews import decode_for_preview, write_preview

    scan = tmp_path / "plate_1904.jpg"
    rng = np.random.default_rng(3)
    big = Image.fromarray(rng.integers(0, 255, (1200, 3200), dtype=np.uint8), "L").resize((3200, 2400))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: upright it is 2400 x 3200
    big.save(scan, quality=80, exif=exif)
    rgb, size = decode_for_preview(scan, 800)
    assert size == (2400, 3200)  # the original's upright size, from the header
    assert rgb.shape == (800, 600, 3)  # decoded at a quarter by the JPEG decoder, upright, not 2400 x 3200
    info = write_preview(scan, tmp_path / "preview.jpg", 800)
    assert (info["width"], info["height"]) == (2400, 3200)
    assert Image.open(tmp_path / "preview.jpg").size == (600, 800)


def test_a_pyramidal_tiff_is_read_from_a_reduced_level_for_its_preview(tmp_path):
    import tracemalloc

    import tifffile

    from colorization.media.previews import decode_for_preview, write_preview

    scan = tmp_path / "atlas_plate_1890.tif"
    y, x = np.mgrid[0:3000, 0:4000]
    full = np.stack([(x // 16) % 256, (y // 12) % 256, np.full_like(x, 90)], axis=-1).astype(np.uint16) * 257
    with tifffile.TiffWriter(scan) as tif:  # 16-bit RGB, stored sideways, with two reduced levels (SubIFDs)
        options = {"tile": (256, 256), "compression": "zlib", "photometric": "rgb"}
        tif.write(full, subifds=2, extratags=[(274, 3, 1, 6, False)], **options)
        tif.write(full[::4, ::4], subfiletype=1, **options)
        tif.write(full[::16, ::16], subfiletype=1, **options)
    del full, y, x
    tracemalloc.start()
    try:
        rgb, size = decode_for_preview(scan, 800)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert size == (3000, 4000)  # the original's upright size, from the header
    assert rgb.shape == (1000, 750, 3) and rgb.dtype == np.uint8  # the 1000 x 750 level, turned upright
    assert peak < 3000 * 4000 * 3  # the full level (72 MB at 16 bits) was never decoded
    assert rgb[0, -1, 0] == 0 and rgb[-1, -1, 0] > 200  # turned the way orientation 6 says
    info = write_preview(scan, tmp_path / "preview.jpg", 800)
    assert (info["width"], info["height"]) == (3000, 4000) and info["is_colour"]
    assert Image.open(tmp_path / "preview.jpg").size == (600, 800)


# Runs in a fresh interpreter that has loaded the decoders: the peak resident memory (which sees libvips' own
# allocations, unlike tracemalloc) that decoding one preview adds. The kernel's high-water mark (VmHWM), reset
# to the current size first: ru_maxrss would carry the parent's peak over the fork.
PREVIEW_PEAK = r"""
import json, re, sys
if sys.argv[2] == "without-pyvips":
    sys.modules["pyvips"] = None  # as where it is not installed: import fails
from colorization.media import previews
previews._pyvips()

def peak():
    return int(re.search(r"VmHWM:\s+(\d+) kB", open("/proc/self/status").read()).group(1)) * 1024

with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # resets VmHWM to the present resident size
before = peak()
rgb, size = previews.decode_for_preview(sys.argv[1], 800)
print(json.dumps({"shape": rgb.shape, "size": size, "mean": float(rgb.mean()), "added": peak() - before}))
"""


def test_a_large_png_is_streamed_reduced_for_its_preview(tmp_path):
    import json
    import subprocess
    import sys

    import pyvips

    scan = tmp_path / "panorama_1911.png"
    xy = pyvips.Image.xyz(8000, 8000)  # 8000 x 8000 RGB (192 MB decoded), written line by line
    rgb = (xy[0] % 256).bandjoin([xy[1] % 256, (xy[0] // 32) % 256]).cast("uchar")
    rgb.pngsave(str(scan), compression=1)
    runs = {}
    for mode in ("with-pyvips", "without-pyvips"):  # the streamed preview, and the full decode it replaces
        out = subprocess.run(
            [sys.executable, "-c", PREVIEW_PEAK, str(scan), mode],
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            check=True,
        )
        runs[mode] = json.loads(out.stdout)
    streamed, whole = runs["with-pyvips"], runs["without-pyvips"]
    full = 8000 * 8000 * 3
    assert streamed["size"] == whole["size"] == [8000, 8000]
    assert streamed["shape"] == [800, 800, 3] and whole["shape"] == [8000, 8000, 3]
    assert abs(streamed["mean"] - whole["mean"]) < 1.0  # the same picture, reduced
    assert whole["added"] > full  # the full decode holds the whole picture (and more): the measure sees it
    assert (
        streamed["added"] < full / 3
    )  # the stream holds a band of lines (50 MB here, growing with the width)


def test_png_and_flat_tiff_previews_keep_depth_transparency_and_orientation(tmp_path):
    import cv2
    import tifffile

    from colorization.media import previews

    y, x = np.mgrid[0:900, 0:1300]
    grey16 = ((x * 50 + y * 20) % 65536).astype(np.uint16)
    rgb16 = np.stack([grey16, (y * 70).astype(np.uint16), np.full_like(grey16, 30000)], axis=-1)
    cv2.imwrite(str(tmp_path / "rgb16.png"), rgb16[..., ::-1])
    cv2.imwrite(str(tmp_path / "grey16.png"), grey16)
    tifffile.imwrite(tmp_path / "grey16.tif", grey16, photometric="minisblack", tile=(256, 256))
    tifffile.imwrite(tmp_path / "rgb16.tif", rgb16, photometric="rgb")
    la = np.stack([(x % 256).astype(np.uint8), ((y // 3) % 256).astype(np.uint8)], axis=-1)
    Image.fromarray(la, "LA").save(tmp_path / "grey_alpha.png")
    Image.fromarray((x % 256).astype(np.uint8), "L").convert("P").save(
        tmp_path / "palette.png", transparency=0
    )
    for name in ("rgb16.png", "grey16.png", "grey16.tif", "rgb16.tif", "grey_alpha.png", "palette.png"):
        src = tmp_path / name
        assert previews.streamed(src, 400, (1300, 900)) is not None  # libvips took it
        rgb, size = previews.decode_for_preview(src, 400)
        assert size == (1300, 900) and rgb.shape == (277, 400, 3) and rgb.dtype == np.uint8, name
        whole = Image.fromarray(media.read_rgb8(src)).resize((400, 277), Image.LANCZOS)
        assert np.abs(np.asarray(whole, dtype=int) - rgb).mean() < 1.5, name  # as the full reader, reduced

    stored = np.zeros((900, 1300, 3), np.uint8)
    stored[:100, :100] = (255, 0, 0)  # a red corner where the file's first pixel is
    for name, orientation in (("sideways.png", 6), ("sideways.tif", 8)):
        exif = Image.Exif()
        exif[0x0112] = orientation
        Image.fromarray(stored).save(tmp_path / name, exif=exif)
        rgb, size = previews.decode_for_preview(tmp_path / name, 400)
        assert size == (900, 1300) and rgb.shape == (400, 277, 3), name  # upright: taller than wide
        red = (rgb[..., 0] > 200) & (rgb[..., 1] < 50)
        corner = (0, -1) if orientation == 6 else (-1, 0)  # 6: turned clockwise; 8: anticlockwise
        assert red[
            corner[0] * 10 : corner[0] * 10 + 10 or None, corner[1] * 10 : corner[1] * 10 + 10 or None
        ].all(), name
        assert red.mean() < 0.02, name


# What the file stores for each EXIF/TIFF orientation, given the upright picture (the inverse of the turn the tag
# asks for): 6 is shown turned a quarter clockwise, so the file holds it turned a quarter anticlockwise.
STORED_FOR = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # mirrored left-right
    3: lambda a: a[::-1, ::-1],  # turned half round
    4: lambda a: a[::-1],  # mirrored top-bottom
    5: lambda a: a.swapaxes(0, 1),  # transposed
    6: lambda a: np.rot90(a, 1),
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),  # transversed
    8: lambda a: np.rot90(a, -1),
}
TAGGED = [
    (fmt, bits, channels)
    for fmt in ("jpeg", "png", "tiff", "tiff-deflate")
    for bits in (8, 16)
    for channels in ("grey", "rgb", "rgba")
    if fmt != "jpeg" or (bits == 8 and channels != "rgba")
]


def tagged_picture(path: Path, fmt: str, bits: int, channels: str, orientation: int):
    """Write a 40 x 24 (w x h) picture of distinct 8 x 8 blocks (so a JPEG keeps them), stored un-turned for
    `orientation` with the tag that says so; returns the upright (H x W or H x W x C) picture and its alpha."""
    import struct
    import zlib

    import cv2
    import tifffile

    block = np.arange(15).reshape(3, 5).repeat(8, axis=0).repeat(8, axis=1)  # 24 x 40, no symmetry
    top = 65535 if bits == 16 else 255
    scale = top // 16
    grey = (block * scale + scale // 2).astype(np.uint16 if bits == 16 else np.uint8)
    alpha = None
    if channels == "grey":
        upright = grey
    else:
        upright = np.stack([grey, grey[::-1, ::-1], grey[:, ::-1]], axis=-1)
        if channels == "rgba":
            alpha = (top - (block % 5) * (top // 8)).astype(grey.dtype)
            upright = np.dstack([upright, alpha])
    stored = np.ascontiguousarray(STORED_FOR[orientation](upright))
    if fmt.startswith("tiff"):
        tifffile.imwrite(
            path,
            stored,
            photometric="minisblack" if channels == "grey" else "rgb",
            extrasamples=[2] if channels == "rgba" else None,
            compression="zlib" if fmt == "tiff-deflate" else None,
            extratags=[(274, "H", 1, orientation, True)],
        )
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        if bits == 16 and channels != "grey":  # Pillow writes no 16-bit colour PNG: OpenCV, and an eXIf chunk
            ok, png = cv2.imencode(".png", stored[..., [2, 1, 0, 3][: stored.shape[2]]])
            assert ok
            data = exif.tobytes()[6:]  # without the "Exif\0\0" that JPEG's APP1 wants
            chunk = (
                struct.pack(">I", len(data)) + b"eXIf" + data + struct.pack(">I", zlib.crc32(b"eXIf" + data))
            )
            path.write_bytes(png.tobytes()[:33] + chunk + png.tobytes()[33:])  # after the IHDR chunk
        else:
            kwargs = {"quality": 100, "subsampling": 0} if fmt == "jpeg" else {}
            Image.fromarray(stored).save(path, fmt.upper(), exif=exif, **kwargs)
    return (upright[..., :3] if alpha is not None else upright), alpha


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt, bits, channels", TAGGED)
def test_every_reader_turns_a_tagged_picture_upright_once(tmp_path, fmt, bits, channels, orientation):
    from colorization.media import previews
    from training.build_dataset import read_image as training_read

    path = tmp_path / f"tagged.{fmt[:4]}"
    upright, alpha = tagged_picture(path, fmt, bits, channels, orientation)
    tolerance = 2 if fmt == "jpeg" else 0

    loaded = media.read_image(path)  # the colorizer's input
    expected = upright if upright.ndim == 3 else np.repeat(upright[..., None], 3, axis=2)
    assert loaded.info["size"] == (40, 24) and loaded.image.shape == (24, 40, 3)
    assert loaded.image.dtype == upright.dtype and loaded.gray == (channels == "grey")
    assert np.abs(loaded.image.astype(int) - expected).max() <= tolerance
    if alpha is not None:
        assert np.array_equal(loaded.alpha, alpha)
    assert loaded.info["orientation"] == orientation and loaded.info["exif"].get(0x0112, 1) == 1

    rgb8 = media.images.to8(expected)
    if alpha is not None:  # over white, as training and previews lay transparent areas
        a = (alpha / float(65535 if bits == 16 else 255))[..., None]
        rgb8 = (rgb8 * a + 255.0 * (1.0 - a)).round().astype(np.uint8)
    for rgb in (media.read_rgb8(path), training_read(path)):  # training, and previews without pyvips
        assert rgb.shape == (24, 40, 3) and np.abs(rgb.astype(int) - rgb8).max() <= tolerance

    # The header check of the pixel limit sees the same picture (its sides, whichever way round the format
    # gives them), and the preview (libvips for PNG and TIFF, Pillow's draft for JPEG) is upright, at its size.
    assert sorted(media.check_header(path, path.name)) == [24, 40]
    rgb, size = previews.decode_for_preview(path, 64)
    assert size == (40, 24) and rgb.shape == (24, 40, 3)
    rounding = 0 if bits == 8 and alpha is None else 2  # libvips rounds 16 bits and alpha its own way
    assert np.abs(rgb.astype(int) - rgb8).max() <= tolerance + rounding  # a turn would be off by 15 or more
