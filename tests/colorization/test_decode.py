"""decode "image": every format and mode, EXIF orientation, 16-bit, multi-page, and bad files."""

import numpy as np
import pytest
from PIL import Image

from colorization.media import ImageError, read_image

GRAY_8 = ["gray.jpg", "gray.png", "gray.webp", "gray.bmp", "gray.tif", "palette.png", "multipage.tif"]


@pytest.mark.parametrize("name", GRAY_8)
def test_grayscale_sources_decode_to_a_gray_rgb_view(samples, helpers, name):
    loaded = read_image(samples[name])
    assert loaded.image.shape == (48, 64, 3) and loaded.image.dtype == np.uint8
    assert loaded.gray and not loaded.info["desaturated"]
    expected = helpers.gradient()
    tolerance = 3 if name.endswith(".jpg") else 0
    assert np.abs(loaded.image[..., 0].astype(int) - expected).max() <= tolerance
    assert loaded.image.base is not None  # a broadcast view: a huge scan costs one channel, not three


@pytest.mark.parametrize("name", ["gray16.png", "gray16.tif", "rgb16.tif"])
def test_sixteen_bit_sources_stay_sixteen_bit(samples, helpers, name):
    loaded = read_image(samples[name])
    assert loaded.image.dtype == np.uint16 and loaded.info["bits"] == 16
    assert loaded.image.shape == (48, 64, 3)
    assert np.array_equal(loaded.image[..., 0], helpers.gradient(dtype=np.uint16))
    assert loaded.info["desaturated"] == (name == "rgb16.tif")


@pytest.mark.parametrize("name", ["rgb.jpg", "cmyk.jpg", "rgba.png", "palette.gif"])
def test_colour_sources_are_flagged_for_desaturation(samples, name):
    loaded = read_image(samples[name])
    assert loaded.image.shape == (48, 64, 3) and loaded.image.dtype == np.uint8
    assert loaded.info["desaturated"] and not loaded.gray


@pytest.mark.parametrize("bits", [8, 16])
def test_a_toned_print_is_not_a_colour_source(tmp_path, helpers, bits):
    """Sepia or any one tint is a black-and-white print (media.holds_colour, as the portal's is_colour)."""
    import tifffile

    g = helpers.gradient(dtype=np.uint16 if bits == 16 else np.uint8)
    tifffile.imwrite(tmp_path / "sepia.tif", np.dstack([g, g // 4 * 3, g // 2]), photometric="rgb")
    loaded = read_image(tmp_path / "sepia.tif")
    assert loaded.info["bits"] == bits and not loaded.gray and not loaded.info["desaturated"]


def test_cmyk_is_converted_to_the_right_rgb(samples, helpers):
    loaded = read_image(samples["cmyk.jpg"])
    assert np.abs(loaded.image.astype(int) - helpers.colour_picture()).mean() < 6


def test_rgba_keeps_its_alpha(samples):
    loaded = read_image(samples["rgba.png"])
    assert loaded.alpha is not None and loaded.alpha.shape == (48, 64) and int(loaded.alpha[0, 0]) == 128


def test_multipage_tiff_uses_the_first_page(samples, helpers):
    loaded = read_image(samples["multipage.tif"])
    assert loaded.info["pages"] == 3
    assert np.array_equal(loaded.image[..., 0], helpers.gradient())


def test_exif_orientation_is_applied(samples):
    loaded = read_image(
        samples["rotated.jpg"]
    )  # stored 40x20, orientation 6: shown rotated 90 degrees clockwise
    assert loaded.image.shape[:2] == (40, 20)
    assert loaded.info["orientation"] == 6 and loaded.info["exif"].get(0x0112) == 1
    assert (
        loaded.image[:20, :, 0].mean() < 60 and loaded.image[20:, :, 0].mean() > 180
    )  # dark half now on top


def test_decoder_info_names_the_file_and_its_hash(samples, helpers):
    loaded = read_image(samples["gray.png"])
    assert loaded.info["name"] == "gray.png" and loaded.info["sha256"] == helpers.sha256(samples["gray.png"])
    assert loaded.info["size"] == (64, 48) and loaded.info["format"] == "PNG"


# ---------------------------------------------------------------- bad input
def _message(path) -> str:
    with pytest.raises(ImageError) as err:
        read_image(path)
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    return message


def test_missing_empty_and_folder(tmp_path):
    assert "no such file" in _message(tmp_path / "nope.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert "empty file" in _message(tmp_path / "empty.jpg")
    assert "folder" in _message(tmp_path)


def test_non_image_file(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is not a photograph\n" * 10)
    assert "not an image" in _message(tmp_path / "notes.jpg")


@pytest.mark.parametrize("name", ["gray.jpg", "gray.png", "gray.tif", "gray.webp"])
def test_truncated_files(tmp_path, samples, name):
    data = samples[name].read_bytes()
    bad = tmp_path / f"cut-{name}"
    bad.write_bytes(data[: len(data) // 2])
    assert "corrupt or truncated" in _message(bad) or "not an image" in _message(bad)


def test_corrupt_bytes_in_the_middle(tmp_path, samples):
    data = bytearray(samples["gray.png"].read_bytes())
    data[60:200] = b"\x00" * 140
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(bytes(data))
    assert "corrupt" in _message(bad)


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    # a 20000 x 20000 (400 MP) single-colour PNG is a few hundred KB on disk
    bomb = tmp_path / "bomb.png"
    Image.MAX_IMAGE_PIXELS, old = None, Image.MAX_IMAGE_PIXELS
    try:
        Image.new("1", (20000, 20000)).save(bomb)
    finally:
        Image.MAX_IMAGE_PIXELS = old
    assert bomb.stat().st_size < 2_000_000
    message = _message(bomb)
    assert "limit of 300 megapixels" in message and "400 megapixels" in message


def test_bomb_between_limit_and_twice_the_limit(tmp_path):
    # Pillow only warns between MAX_IMAGE_PIXELS and twice it; we refuse there too
    path = tmp_path / "big.png"
    Image.MAX_IMAGE_PIXELS, old = None, Image.MAX_IMAGE_PIXELS
    try:
        Image.new("1", (18000, 18000)).save(path)
    finally:
        Image.MAX_IMAGE_PIXELS = old
    assert "324 megapixels" in _message(path)
