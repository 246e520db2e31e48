"""Every upload is sniffed before it is stored: magic bytes, then its header opened with Pillow or PyAV.
Anything else is refused with the reason, and nothing is stored."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from portal.catalog.ingest import IngestError, add_item
from portal.catalog.models import Item
from tests.support.media import make_film, make_photo
from tests.support.services import require_service

pytestmark = pytest.mark.django_db


def _audio_only_mp4(path) -> bytes:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        for i in range(10):
            samples = (np.sin(np.arange(1024) / 10 + i) * 0.3).astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("a.txt", "hello")
    return buffer.getvalue()


def test_files_that_are_not_what_their_name_says_are_refused(tmp_path, staff_user):
    photo = make_photo(tmp_path / "p.jpg", size=(120, 90)).read_bytes()
    film = make_film(tmp_path / "f.mp4", frames=10).read_bytes()
    cases = {
        "page.jpg": (
            b"<!doctype html><html><script>alert(1)</script></html>",
            "not a picture in the .jpg format",
        ),
        "drawing.svg": (b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "unsupported file type .svg"),
        "archive.png": (_zip(), "not a picture in the .png format"),
        "cut.jpg": (photo[: len(photo) // 2], "damaged or cut short"),
        "sound.mp4": (_audio_only_mp4(tmp_path / "a.mp4"), "has no video stream"),
        "noise.mp4": (np.random.default_rng(0).bytes(50_000), "not a film in the .mp4 format"),
        "cut.mp4": (film[:200], "refused"),
    }
    for name, (data, reason) in cases.items():
        with pytest.raises(IngestError) as refused:
            add_item(SimpleUploadedFile(name, data), user=staff_user)
        assert str(refused.value).startswith(f"{name}: ") and reason in str(refused.value), (
            name,
            refused.value,
        )
    assert Item.objects.count() == 0
    # the real ones go in
    add_item(SimpleUploadedFile("p.jpg", photo), user=staff_user)
    add_item(SimpleUploadedFile("f.mp4", film), user=staff_user)
    assert sorted(Item.objects.values_list("type", flat=True)) == ["MovingImage", "StillImage"]


def test_the_upload_page_shows_why_a_file_was_refused(staff_client):
    response = staff_client.post(
        "/catalog/upload/", {"files": [SimpleUploadedFile("noise.mp4", b"\x00" * 4096)]}
    )
    assert "noise.mp4: refused: the content is not a film in the .mp4 format" in response.content.decode()
    assert Item.objects.count() == 0


def test_long_names_are_shortened_for_storage_and_kept_whole_in_the_row(
    tmp_path, staff_user, django_capture_on_commit_callbacks
):
    name = (
        "Hafen " + "ä" * 150 + " 1923 " + "x" * 80 + ".png"
    )  # 246 characters (the most Django keeps: 255), 396 bytes
    data = make_photo(tmp_path / "p.png", size=(64, 48)).read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        item = add_item(SimpleUploadedFile(name, data), user=staff_user)
    item.refresh_from_db()
    stored = item.original.name.rsplit("/", 1)[-1]
    assert item.original_name == name and stored.endswith(".png") and len(stored.encode()) <= 100
    assert item.original.read() == data
    assert item.preview and item.thumbnail and not item.media_error  # previews no longer stop silently


def test_a_preview_failure_is_recorded_on_the_item(tmp_path, staff_user, django_capture_on_commit_callbacks):
    from workers import tasks

    item = add_item(SimpleUploadedFile("p.png", make_photo(tmp_path / "p.png").read_bytes()), user=staff_user)
    path = Path(item.original.path)
    path.unlink()
    tasks.make_previews(item.pk)  # a plain reason from the library
    item.refresh_from_db()
    assert item.media_error == "p.png: no such file"
    path.mkdir()  # something no reader expects: recorded too, without the server's paths
    tasks.make_previews(item.pk)
    item.refresh_from_db()
    assert item.media_error.startswith("p.png: ") and str(path.parent) not in item.media_error, (
        item.media_error
    )


@pytest.mark.django_db(transaction=True)
def test_parallel_identical_uploads_answer_already_in_the_archive(tmp_path, django_user_model):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    require_service("postgresql", "parallel uploads need parallel connections (SQLite in memory has one)")
    user = django_user_model.objects.create_user("curator", "c@example.org", "tide-lantern-basalt-47")
    data = make_photo(tmp_path / "p.png", size=(80, 60)).read_bytes()

    def upload(i: int) -> str:
        try:
            add_item(SimpleUploadedFile(f"copy{i}.png", data), user=user)
            return "stored"
        except IngestError as exc:
            return str(exc)
        finally:
            connection.close()

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(upload, range(10)))
    assert answers.count("stored") == 1, answers
    assert all("is already in the archive as item" in a for a in answers if a != "stored"), answers
    item = Item.objects.get()
    assert item.original.read() == data  # the winner's file survived the losers' clean-up


def test_csv_rows_the_parser_or_database_would_choke_on_are_reported_per_row(staff_client, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile as Upload

    a, c = (make_photo(tmp_path / f"{n}.png", size=(40 + i, 30)) for i, n in enumerate("ac"))
    csv_text = (
        "file,title,description\n"
        "a.png,Dock,fine\n"
        "b.png,Null,before\x00after\n"  # NUL: PostgreSQL refuses it in text
        f"b.png,Huge,{'z' * 200_000}\n"  # over the csv module's 131,072-character field limit
        "c.png,Ferry,fine\n"
    )
    response = staff_client.post("/catalog/import/", {
        "csv_file": Upload("list.csv", csv_text.encode()), "files": [Upload("a.png", a.read_bytes()),
        Upload("c.png", c.read_bytes())], "map_file": "file", "map_title": "title", "map_description": "description",
    })  # fmt: skip
    assert response.status_code == 200
    page = response.content.decode()
    assert sorted(Item.objects.values_list("title", flat=True)) == ["Dock", "Ferry"]
    assert "a cell contains a NUL byte" in page and "field larger than field limit" in page
    assert re.findall(r"<tr><td>(\d+)</td>", page) == ["3", "4"]


def test_an_item_whose_original_is_unreadable_cannot_be_published(staff_client, tmp_path, staff_user):
    item = add_item(SimpleUploadedFile("p.png", make_photo(tmp_path / "p.png").read_bytes()), user=staff_user)
    Item.objects.filter(pk=item.pk).update(media_error="p.png: corrupt or truncated image data")
    page = staff_client.post(f"/catalog/items/{item.pk}/publish/", follow=True).content.decode()
    assert "cannot be published: its original cannot be read" in page
    form = {"title": "P", "rights": "http://rightsstatements.org/vocab/NKC/1.0/", "status": "published"}
    assert (
        "This item cannot be published"
        in staff_client.post(f"/catalog/items/{item.pk}/edit/", form).content.decode()
    )
    assert Item.objects.get(pk=item.pk).status == Item.Status.DRAFT


def _excel_csv(rows: list[list[str]], delimiter: str, encoding: str) -> bytes:
    """A CSV as a spreadsheet program writes it: the csv module's quoting, CRLF line ends, the given bytes."""
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter).writerows(rows)
    return text.getvalue().encode(encoding)


@pytest.mark.parametrize(
    "delimiter, encoding",
    [(";", "cp1252"), (";", "utf-8-sig"), ("\t", "cp1252"), (",", "cp1252"), (";", "utf-8")],
)
def test_csv_from_european_spreadsheets_is_read_whatever_its_separator_and_encoding(
    tmp_path, delimiter, encoding
):
    from portal.catalog.importer import import_csv

    files = {n: make_photo(tmp_path / n, size=(40 + i, 30)) for i, n in enumerate(["a.png", "b.png"])}
    rows = [
        ["Datei", "Titel", "Ort", "Beschreibung"],
        ["a.png", "Café de la Paix", "Paris", "Terrasse; Kellner, Gäste"],  # both separators inside a cell
        ["b.png", "Saint-Étienne", "Loire", "Gare de Châteaucreux, 1923"],
    ]
    mapping = {"file": "Datei", "title": "Titel", "place": "Ort", "description": "Beschreibung"}
    uploads = {n: SimpleUploadedFile(n, p.read_bytes()) for n, p in files.items()}
    report = import_csv(_excel_csv(rows, delimiter, encoding), uploads, mapping)
    assert report.errors == []
    found = sorted(Item.objects.values_list("title", "place", "description"))
    assert found == [
        ("Café de la Paix", "Paris", "Terrasse; Kellner, Gäste"),
        ("Saint-Étienne", "Loire", "Gare de Châteaucreux, 1923"),
    ]


def test_a_csv_in_neither_utf8_nor_windows_1252_is_reported_and_a_row_without_a_file_is_a_record(tmp_path):
    from portal.catalog.importer import import_csv

    mapping = {"file": "file", "title": "title"}
    report = import_csv(b"file;title\r\na.png;\x81\x8d\r\n", {}, mapping)  # bytes cp1252 leaves undefined
    assert report.errors == [(1, "the CSV file is neither UTF-8 nor Windows-1252 text")]
    photo = make_photo(tmp_path / "a.png")
    rows = [["file", "title"], ["a.png", "Quai"], ["", "Record without a scan"]]
    report = import_csv(_excel_csv(rows, ";", "cp1252"), {"a.png": SimpleUploadedFile("a.png", photo.read_bytes())},
                        mapping)  # fmt: skip
    assert [(i.title, i.has_original) for i in report.created] == [
        ("Quai", True),
        ("Record without a scan", False),
    ]
    assert report.errors == []  # a row without its file is a record; the file is attached later


def _film(path: Path, frames: int = 40, **options: str) -> bytes:
    """A 4-second H.264 film written by FFmpeg's muxers (PyAV); `options`: the muxer's (movflags=faststart)."""
    with av.open(str(path), "w", options=options) as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "10"}
        for i in range(frames):
            img = np.full((48, 64, 3), 40 + 4 * i, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def test_a_film_cut_short_is_refused_at_upload(tmp_path, staff_user, settings):
    """A fast-start MP4 or an MKV cut in half keeps its header (the duration, the index) and its first frames:
    it used to pass the upload check and fail only in the colorization worker. It is refused at upload, saying
    so, and nothing is stored; the whole files go in."""
    films = {
        "fast_start.mp4": _film(tmp_path / "fast_start.mp4", movflags="faststart"),
        "reel.mkv": _film(tmp_path / "reel.mkv"),
        "index_at_end.mp4": _film(tmp_path / "index_at_end.mp4"),  # cut: its index is gone, it cannot open
    }
    stored = {p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()}
    for name, data in films.items():
        with pytest.raises(IngestError) as refused:
            add_item(SimpleUploadedFile(name, data[: len(data) // 2]), user=staff_user)
        message = str(refused.value)
        assert message.startswith(f"{name}: refused: "), message
        if name != "index_at_end.mp4":
            assert (
                "cut short: its header says it lasts 4.0 s" in message and "upload the whole file" in message
            )
    assert Item.objects.count() == 0
    assert {p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()} == stored  # nothing stored
    for name, data in films.items():
        add_item(SimpleUploadedFile(name, data), user=staff_user)
    assert Item.objects.count() == 3


def _mkv_with_gap(path: Path, gap_s: float) -> bytes:
    """Ten FFV1 frames at 25 fps in Matroska (millisecond timestamps), the last five `gap_s` seconds later."""
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * i, np.uint8), format="rgb24")
            frame.pts = round((i * 0.04 + (gap_s if i >= 5 else 0)) * 1000)
            frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def test_a_film_whose_frames_lie_hours_apart_is_refused_at_upload(tmp_path, staff_user, settings):
    """An MKV whose timestamps jump by ten hours between two frames (ten frames said to last ten hours) used
    to pass the upload check. It is refused at upload in plain words, and nothing is stored; a film that holds
    a still for a few seconds (variable frame rate) still goes in."""
    stored = {p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()}
    with pytest.raises(IngestError) as refused:
        add_item(SimpleUploadedFile("reel.mkv", _mkv_with_gap(tmp_path / "gap.mkv", 36_000)), user=staff_user)
    assert str(refused.value) == (
        "reel.mkv: refused: its frames' timestamps jump by 36,000 s after frame 5 (at 0.2 s); a film's frames "
        "may lie at most 60 s apart: remux or re-encode it with continuous timestamps"
    )
    assert Item.objects.count() == 0
    assert {p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()} == stored
    add_item(SimpleUploadedFile("held.mkv", _mkv_with_gap(tmp_path / "held.mkv", 5)), user=staff_user)
    add_item(SimpleUploadedFile("reel.mkv", _mkv_with_gap(tmp_path / "reel.mkv", 0)), user=staff_user)
    assert Item.objects.count() == 2


def test_refusals_of_damaged_films_are_plain_words(tmp_path, staff_user, settings):
    """What a refused upload says names the file as its sender named it: no server folder (where the upload was
    spooled), no errno code, no library function (before: "[Errno 1094995529] Invalid data found when
    processing input: 'avcodec_send_packet()'")."""
    whole = _film(tmp_path / "whole.mp4", movflags="faststart")
    garbled = bytearray(whole)
    start = garbled.find(b"mdat") + 4 + 64  # the frames' data, past the first NAL units' lengths
    for i in range(start, len(garbled) - 8):
        garbled[i] = (garbled[i] * 7 + 13) & 0xFF
    cases = {
        "garbled.mp4": bytes(garbled),
        "half.mp4": whole[: len(whole) // 2],
        "header_only.mp4": whole[:200],
        "reel.mkv": _film(tmp_path / "reel.mkv")[:3000],
    }
    for name, data in cases.items():
        with pytest.raises(IngestError) as refused:
            add_item(SimpleUploadedFile(name, data), user=staff_user)
        message = str(refused.value)
        assert message.startswith(f"{name}: refused: ") and len(message) > len(f"{name}: refused: ") + 10
        assert "/" not in message and "Errno" not in message and "()" not in message, message
        assert str(settings.FILE_UPLOAD_TEMP_DIR or "/tmp") not in message
