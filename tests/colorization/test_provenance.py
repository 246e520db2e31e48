"""Provenance: the XMP packet in JPEG, PNG, TIFF and WebP, read back by the real ExifTool."""

import json
import shutil
import subprocess

import pytest

from colorization import colorize_file, provenance

pytestmark = pytest.mark.skipif(
    shutil.which("exiftool") is None, reason="exiftool not installed (Debian: libimage-exiftool-perl)"
)


def exiftool(path) -> dict:
    out = subprocess.run(
        ["exiftool", "-j", "-G", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)[0]


@pytest.mark.parametrize(
    "source,fmt",
    [
        ("gray.png", "jpeg"),
        ("gray.png", "png"),
        ("gray16.tif", "png"),
        ("gray.jpg", "tiff"),
        ("gray16.tif", "tiff"),
        ("gray.bmp", "webp"),
    ],
)
def test_exiftool_reads_the_provenance(tmp_path, samples, tiny_model, helpers, source, fmt):
    src = samples[source]
    result = colorize_file(src, tmp_path / "out", model=str(tiny_model), format=fmt)
    tags = exiftool(result.dst)
    assert tags["XMP:DigitalSourceType"] == provenance.DIGITAL_SOURCE_TYPE
    assert tags["XMP:Model"] == "tiny" and str(tags["XMP:ModelVersion"]) == "0.1"
    assert tags["XMP:SourceFile"] == source
    assert tags["XMP:SourceSHA256"] == helpers.sha256(src)
    assert tags["XMP:Description"].startswith("Colorized by tiny")
    assert "colours are an estimate, not a record" in tags["XMP:Description"]
    assert not any(k.startswith("ExifTool:Warning") for k in tags), tags.get("ExifTool:Warning")


def test_a_colour_original_is_described_as_such(tmp_path, samples, tiny_model):
    result = colorize_file(samples["rgb.jpg"], tmp_path / "c.jpg", model=str(tiny_model))
    assert "from the lightness of the colour original rgb.jpg" in exiftool(result.dst)["XMP:Description"]


def test_exif_of_a_rotated_original_is_kept_but_reset_to_upright(tmp_path, samples, tiny_model):
    result = colorize_file(samples["rotated.jpg"], tmp_path / "r.jpg", model=str(tiny_model))
    tags = exiftool(result.dst)
    assert tags["File:ImageWidth"] == 20 and tags["File:ImageHeight"] == 40
    assert tags.get("IFD0:Orientation", "Horizontal (normal)") == "Horizontal (normal)"


def test_packet_escapes_odd_file_names():
    packet = provenance.xmp_packet(
        model='m<&>"',
        model_version="1",
        source_name="a&b <c>.jpg",
        source_sha256="00",
        extra={"smoothing": "flow", "batch size": 8, "ignored": [1, 2]},
    )
    import xml.dom.minidom

    text = packet.decode("utf-8")
    xml.dom.minidom.parseString(text.split("?>", 1)[1].rsplit("<?xpacket", 1)[0])  # well-formed XML
    assert 'colorarchive:Smoothing="flow"' in text and 'colorarchive:BatchSize="8"' in text
    assert "Ignored" not in text
