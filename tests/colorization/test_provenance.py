"""Provenance: the XMP packet in JPEG, PNG, TIFF and WebP, read back by the real ExifTool."""

import json
import shutil
import subprocess

import pytest

from colorization import colorize_file, provenance
from tests.support.provenance import RIGHTS, assert_rights_and_ai_fields

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


def exiftool_groups(path) -> dict:
    out = subprocess.run(
        ["exiftool", "-j", "-G1", "-n", "-a", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)[0]


@pytest.mark.parametrize("fmt", ["jpeg", "png", "tiff", "webp"])
def test_a_photo_carries_the_rights_and_the_iptc_ai_fields(tmp_path, samples, tiny_model, fmt):
    result = colorize_file(
        samples["gray.png"], tmp_path / "out", model=str(tiny_model), format=fmt, rights=RIGHTS
    )
    assert_rights_and_ai_fields(exiftool_groups(result.dst))


def test_a_film_carries_them_in_mp4_xmp_and_its_container_tags(tmp_path, tiny_model):
    import av

    from colorization.media.mp4_xmp import read_xmp
    from tests.support.media import make_film

    film = make_film(tmp_path / "tram.mp4", frames=6)
    result = colorize_file(
        film, tmp_path / "tram-colorized.mp4", preset="film", model=str(tiny_model), rights=RIGHTS
    )
    tags = exiftool_groups(result.dst)
    assert_rights_and_ai_fields(tags)
    assert tags["XMP-colorarchive:SourceFile"] == "tram.mp4"
    assert read_xmp(result.dst).count(b"<x:xmpmeta") == 1
    with av.open(str(result.dst)) as container:  # the box at the end changes nothing a player reads
        assert container.metadata["title"] == RIGHTS.title
        assert RIGHTS.rights_uri in container.metadata["copyright"]
        assert RIGHTS.credit_line in container.metadata["copyright"]
        assert sum(1 for _ in container.decode(video=0)) == 6


def test_a_film_joined_from_segments_carries_them_once(tmp_path, tiny_model):
    from colorization import build_pipeline, presets, segments
    from colorization.media.film_writer import film_xmp, rights_tags
    from tests.support.media import make_film

    film = make_film(tmp_path / "tram.mp4", frames=10, gop=5)
    pipeline = build_pipeline(presets.get("film", model=str(tiny_model)))
    parts = []
    for seg in segments.plan(film, max_frames=5):
        parts.append(tmp_path / f"part{seg.index}.mp4")
        segments.colorize_segment(film, seg, parts[-1], pipeline=pipeline)
    assert all(b"<x:xmpmeta" not in p.read_bytes() for p in parts)  # a part carries none: the join adds it
    xmp = film_xmp({"name": film.name, "sha256": "ab" * 32}, {**pipeline.context(), "rights": RIGHTS})
    dst = segments.join(parts, film, tmp_path / "joined.mp4", xmp=xmp, tags=rights_tags(RIGHTS))["dst"]
    tags = exiftool_groups(dst)
    assert_rights_and_ai_fields(tags)
    assert open(dst, "rb").read().count(b"<x:xmpmeta") == 1
