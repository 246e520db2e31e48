"""Photos end to end: size and lightness kept, 16 bit kept, originals untouched, batches, bad files."""

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from colorization import build_pipeline, colorize_file, colorize_files, presets
from colorization.color import gray_to_lightness, rgb_to_lab, rgb_to_lightness
from colorization.media import read_image
from colorization.stages.postprocess import merge_luma, upsample_ab_rows

ALL = [
    "gray.jpg",
    "rgb.jpg",
    "gray.png",
    "gray16.png",
    "rgba.png",
    "palette.png",
    "palette.gif",
    "gray.webp",
    "gray.bmp",
    "cmyk.jpg",
    "gray.tif",
    "gray16.tif",
    "rgb16.tif",
    "multipage.tif",
    "rotated.jpg",
]


def read_back(path):
    """An output file as an RGB array (uint8 or uint16) and its alpha, without Pillow's 8-bit reduction."""
    if path.suffix == ".tif":
        arr = tifffile.imread(path)
    else:
        arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        arr = arr[..., [2, 1, 0, 3][: arr.shape[2]]]
    return arr[..., :3], (arr[..., 3] if arr.shape[2] == 4 else None)


def lightness(image):
    top = 65535.0 if image.dtype == np.uint16 else 255.0
    return rgb_to_lightness(image.astype(np.float32) / top)


@pytest.mark.parametrize("name", ALL)
def test_every_input_keeps_its_size_and_lightness(tmp_path, samples, tiny_model, helpers, name):
    src = samples[name]
    before = helpers.sha256(src)
    result = colorize_file(src, tmp_path / "out.png", model=str(tiny_model))
    assert result.frames == 1 and result.dst == tmp_path / "out.png"
    decoded = read_image(src)
    out, _ = read_back(result.dst)
    assert out.shape == decoded.image.shape  # exactly the input's size (after EXIF orientation)
    assert out.dtype == decoded.image.dtype  # 16-bit in, 16-bit out (PNG)
    assert np.abs(lightness(out) - lightness(np.asarray(decoded.image))).max() <= 1.0
    chroma = np.hypot(
        *np.moveaxis(
            rgb_to_lab(out.astype(np.float32) / (65535.0 if out.dtype == np.uint16 else 255.0))[..., 1:],
            -1,
            0,
        )
    )
    assert np.median(chroma) > 3.0  # it is actually in colour now
    assert helpers.sha256(src) == before  # the original is never modified


@pytest.mark.parametrize(
    "fmt,suffix,bits", [("png", ".png", 16), ("tiff", ".tif", 16), ("jpeg", ".jpg", 8), ("webp", ".webp", 8)]
)
def test_sixteen_bit_output_where_the_format_allows(tmp_path, samples, tiny_model, fmt, suffix, bits):
    result = colorize_file(samples["gray16.tif"], tmp_path / "x.png", model=str(tiny_model), format=fmt)
    assert result.dst.suffix == suffix and result.info["bits"] == bits
    if fmt in ("png", "tiff"):
        assert read_back(result.dst)[0].dtype == np.uint16
    else:
        assert Image.open(result.dst).mode == "RGB"
    assert [p.name for p in tmp_path.iterdir()] == [result.dst.name]  # nothing else left behind


def test_alpha_survives_in_png_and_is_flattened_in_jpeg(tmp_path, samples, tiny_model):
    png = colorize_file(samples["rgba.png"], tmp_path / "a.png", model=str(tiny_model)).dst
    _, alpha = read_back(png)
    assert alpha is not None and int(alpha[0, 0]) == 128
    jpg = colorize_file(samples["rgba.png"], tmp_path / "a.jpg", model=str(tiny_model)).dst
    assert Image.open(jpg).mode == "RGB"


def test_real_archive_photos(tmp_path, tiny_model, helpers):
    photos = helpers.historical_bw()[:3]
    pairs = [(p, tmp_path / f"{p.stem}.png") for p in photos]
    before = [helpers.sha256(p) for p in photos]
    results = colorize_files(pairs, model=str(tiny_model))
    assert all(r.ok for r in results), [r.error for r in results]
    for (src, dst), digest in zip(pairs, before, strict=True):
        decoded = read_image(src)
        out, _ = read_back(dst)
        assert out.shape == decoded.image.shape
        assert np.abs(lightness(out) - lightness(np.asarray(decoded.image))).max() <= 1.0
        assert helpers.sha256(src) == digest


def test_batches_share_a_forward_pass_and_match_single_runs(tmp_path, samples, tiny_model):
    names = ["gray.png", "gray.bmp", "palette.png", "gray.tif", "gray16.png"]
    pipeline = build_pipeline(presets.get("photo", model=str(tiny_model), batch_size=4))
    calls = []
    unet = pipeline.stages[0]
    original_predict = unet.predict
    unet.predict = lambda L: (
        calls.append(len(L)) or original_predict(L)
    )  # count forward passes, keep behaviour
    results = colorize_files([(samples[n], tmp_path / f"b-{n}.png") for n in names], pipeline=pipeline)
    assert all(r.ok for r in results) and calls == [4, 1]
    for n in names:
        single = colorize_file(samples[n], tmp_path / f"s-{n}.png", model=str(tiny_model)).dst
        a, b = read_back(tmp_path / f"b-{n}.png")[0], read_back(single)[0]
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_bad_files_fail_alone_and_leave_nothing(tmp_path, samples, tiny_model):
    (tmp_path / "in").mkdir()
    bad = tmp_path / "in" / "truncated.jpg"
    data = samples["gray.jpg"].read_bytes()
    bad.write_bytes(data[: len(data) // 3])
    empty = tmp_path / "in" / "empty.png"
    empty.write_bytes(b"")
    out = tmp_path / "out"
    pairs = [
        (samples["gray.png"], out / "1.png"),
        (bad, out / "2.png"),
        (empty, out / "3.png"),
        (tmp_path / "in" / "missing.png", out / "4.png"),
        (samples["gray.bmp"], out / "5.png"),
    ]
    results = colorize_files(pairs, model=str(tiny_model))
    assert [r.ok for r in results] == [True, False, False, False, True]
    assert "truncated.jpg" in results[1].error and "corrupt or truncated" in results[1].error
    assert "empty file" in results[2].error and "no such file" in results[3].error
    assert sorted(p.name for p in out.iterdir()) == ["1.png", "5.png"]  # no partial or temporary files


def test_an_encoder_failure_leaves_no_partial_file(tmp_path, tiny_model):
    wide = (
        tmp_path / "wide.png"
    )  # WebP cannot hold more than 16383 pixels per side: the encoder fails mid-write
    Image.new("L", (17000, 4), 100).save(wide)
    out = tmp_path / "out"
    [result] = colorize_files([(wide, out / "wide.webp")], model=str(tiny_model))
    assert not result.ok and result.error.startswith(f"{wide}: could not write {out / 'wide.webp'}: ")
    assert list(out.iterdir()) == []


def test_the_original_is_never_overwritten(tmp_path, samples, tiny_model, helpers):
    src = tmp_path / "photo.png"
    src.write_bytes(samples["gray.png"].read_bytes())
    before = helpers.sha256(src)
    [result] = colorize_files([(src, src)], model=str(tiny_model))
    assert not result.ok and "refusing to overwrite the original" in result.error
    assert helpers.sha256(src) == before


# ---------------------------------------------------------------- merge_luma internals
def test_stripes_match_a_whole_image_merge():
    rng = np.random.default_rng(1)
    image = np.broadcast_to(rng.integers(0, 256, (101, 77), dtype=np.uint8)[..., None], (101, 77, 3))
    ab = rng.normal(0, 30, (16, 16, 2)).astype(np.float32)
    whole = merge_luma(image, ab, gray=True, stripe_pixels=10**9)
    striped = merge_luma(image, ab, gray=True, stripe_pixels=77 * 7)  # 7-row stripes, last one partial
    assert np.array_equal(whole, striped)


def test_row_upsampling_matches_opencv_resize():
    ab = np.random.default_rng(2).normal(0, 20, (14, 14, 2)).astype(np.float32)
    full = cv2.resize(ab, (53, 41), interpolation=cv2.INTER_LINEAR)
    assert np.abs(upsample_ab_rows(ab, 41, 53, 10, 30) - full[10:30]).max() < 1e-3


def test_out_of_gamut_colours_lose_chroma_not_lightness():
    gray = np.linspace(0, 255, 256, dtype=np.uint8).reshape(16, 16)
    image = np.broadcast_to(gray[..., None], (16, 16, 3))
    ab = np.full((4, 4, 2), [110.0, -110.0], np.float32)  # far outside sRGB at most lightnesses
    out = merge_luma(image, ab, gray=True)
    L_in = gray_to_lightness(gray.astype(np.float32) / 255)
    assert np.abs(lightness(out) - L_in).max() <= 1.0
    assert np.abs(out[8, 8].astype(int) - out[8, 8, ::-1].astype(int)).max() > 20  # still coloured mid-grey


@pytest.mark.parametrize(
    "source, fmt, suffix",
    [
        ("historical 0", "jpeg", ".jpg"),  # grey JPEG
        ("historical 1", "png", ".png"),  # grey stored as RGB
        ("historical 1", "tiff", ".tif"),
        ("historical 1", "webp", ".webp"),
        ("gray16.png", "png", ".png"),  # 16 bits kept
    ],
)
def test_a_photo_read_in_bands_comes_out_as_when_read_whole(
    tmp_path, samples, tiny_model, helpers, source, fmt, suffix
):
    """A picture of 50 MP or more is read reduced for the network, then merged and written a band at a time
    (colorization.media.bands). Forced on normal photos, that path gives what reading them whole gives: the same
    file information and provenance, and the same pixels but for the network's input, made from libvips' reduced
    picture, and libvips' encoder (a fraction of a level on average)."""
    src = helpers.historical_bw()[int(source[-1])] if source.startswith("historical") else samples[source]
    spec = presets.get("photo", model=str(tiny_model), format=fmt)
    whole = build_pipeline(spec).run(src, tmp_path / f"whole{suffix}")
    spec["decode"] = {"name": "image", "banded_megapixels": 0}
    banded = build_pipeline(spec).run(src, tmp_path / f"banded{suffix}")
    assert banded.info == {**whole.info, "path": str(tmp_path / f"banded{suffix}")}
    before, _ = read_back(whole.dst)
    after, _ = read_back(banded.dst)
    assert after.dtype == before.dtype and after.shape == before.shape
    level = 257 if after.dtype == np.uint16 else 1
    diff = np.abs(after.astype(np.int64) - before.astype(np.int64)) / level
    assert diff.mean() < 0.5 and np.percentile(diff, 99.9) <= 3, (diff.mean(), np.percentile(diff, 99.9))
    data = banded.dst.read_bytes()
    assert helpers.sha256(src).encode() in data and b"DigitalSourceType" in data  # the provenance packet
