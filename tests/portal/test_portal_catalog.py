"""Cataloguing: uploads (stored once, hashed, previews by the worker), CSV import, metadata edits."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.urls import reverse
from PIL import Image

from portal.catalog.models import Collection, Item

pytestmark = pytest.mark.django_db


def _upload(client, path, **extra):
    with open(path, "rb") as f:
        return client.post(reverse("catalog:upload"), {"files": [f], **extra})


def test_upload_stores_original_once_with_checksum_and_worker_previews(
    staff_client, photo_file, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(staff_client, photo_file, place="Hamburg")
    item = Item.objects.get()
    assert response.status_code == 302 and response.url == reverse("catalog:item", args=[item.pk])
    data = photo_file.read_bytes()
    assert item.sha256 == hashlib.sha256(data).hexdigest()
    with item.original.open("rb") as f:
        assert f.read() == data  # stored unchanged
    assert item.type == Item.Type.STILL_IMAGE and item.status == Item.Status.DRAFT and item.place == "Hamburg"
    item.refresh_from_db()
    assert (item.width, item.height) == (96, 72)
    with item.thumbnail.open("rb") as f:
        assert Image.open(f).size[0] <= 480
    assert item.media_error == ""


def test_film_upload_gets_a_poster_frame(staff_client, film_file, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _upload(staff_client, film_file)
    item = Item.objects.get()
    assert item.type == Item.Type.MOVING_IMAGE
    assert item.frame_count == 20 and item.preview
    with item.preview.open("rb") as f:
        assert Image.open(f).size == (64, 48)


def test_duplicate_and_unsupported_uploads_are_refused_with_the_file_name(staff_client, photo_file, tmp_path):
    _upload(staff_client, photo_file)
    response = _upload(staff_client, photo_file)
    assert "already in the archive" in response.content.decode()
    bad = tmp_path / "notes.docx"
    bad.write_bytes(b"PK\x03\x04 not an image")
    response = _upload(staff_client, bad)
    assert "notes.docx: unsupported file type .docx" in response.content.decode()
    assert Item.objects.count() == 1


def test_a_truncated_image_is_refused_at_upload_with_the_reason(staff_client, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    page = _upload(staff_client, broken).content.decode()
    assert "broken.jpg: refused: Pillow cannot read it as a picture" in page
    assert Item.objects.count() == 0


def test_csv_import_maps_columns_and_reports_row_errors(staff_client, tmp_path):
    from tests.support.media import make_photo

    a = make_photo(tmp_path / "a.png", size=(40, 30))
    b = make_photo(tmp_path / "b.png", size=(41, 30))
    coll = Collection.objects.create(title="Harbour", slug="harbour")
    csv_text = (
        "Datei,Titel,Ort,Personen,Jahr\n"
        "a.png,Dock workers,Hamburg,Anna Berg; Karl Berg,1923\n"
        "b.png,Ferry,Altona,,19x3\n"  # bad year
        "missing.png,Ghost,,,1930\n"  # file not uploaded
    )
    with open(a, "rb") as fa, open(b, "rb") as fb:
        response = staff_client.post(reverse("catalog:import"), {
            "csv_file": io.BytesIO(csv_text.encode()), "files": [fa, fb], "collection": coll.pk,
            "map_file": "Datei", "map_title": "Titel", "map_place": "Ort", "map_people": "Personen",
            "map_year_from": "Jahr", "map_year_to": "Jahr",
        })  # fmt: skip
    page = response.content.decode()
    item = Item.objects.get()
    assert (item.title, item.place, item.year_from, item.collection) == (
        "Dock workers",
        "Hamburg",
        1923,
        coll,
    )
    assert item.people_list() == ["Anna Berg", "Karl Berg"]
    assert "Jahr &#x27;19x3&#x27; is not a year" in page
    assert "file &#x27;missing.png&#x27; was not uploaded with the CSV" in page
    assert ">3<" in page and ">4<" in page  # line numbers of the bad rows


def test_metadata_edit_and_publish(staff_client, photo_file):
    _upload(staff_client, photo_file)
    item = Item.objects.get()
    response = staff_client.post(reverse("catalog:item_edit", args=[item.pk]), {
        "title": "Harbour, 1923", "date": "circa 1923", "year_from": 1920, "year_to": 1925, "place": "Hamburg",
        "rights": "http://rightsstatements.org/vocab/NKC/1.0/", "status": "draft",
    })  # fmt: skip
    assert response.status_code == 302
    staff_client.post(reverse("catalog:item_publish", args=[item.pk]))
    item.refresh_from_db()
    assert item.title == "Harbour, 1923" and item.year_to == 1925 and item.is_published and item.published_at


def test_year_range_must_be_ordered(staff_client, photo_file):
    _upload(staff_client, photo_file)
    item = Item.objects.get()
    response = staff_client.post(
        reverse("catalog:item_edit", args=[item.pk]),
        {"title": "x", "year_from": 1930, "year_to": 1920, "rights": item.rights, "status": "draft"},
    )
    assert "must not be before" in response.content.decode()


def test_import_catalog_command(tmp_path, django_capture_on_commit_callbacks):
    from django.core.management import call_command

    from tests.support.media import make_photo

    scans = tmp_path / "scans"
    make_photo(scans / "one.png", size=(30, 20))
    make_photo(scans / "two.png", size=(31, 20))
    (tmp_path / "items.csv").write_text("file,Titel,place,rights\none.png,First,Kiel,\ntwo.png,,Kiel,free\n")
    err = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_catalog", tmp_path / "items.csv", files=scans, map=["title=Titel"], stderr=err,
                     stdout=io.StringIO())  # fmt: skip
    assert list(Item.objects.values_list("title", "place")) == [("First", "Kiel")]
    assert "items.csv:3: rights 'free' is not a rightsstatements.org URI" in err.getvalue()


def test_import_catalog_command_makes_records_from_rows_without_a_file(
    tmp_path, django_capture_on_commit_callbacks
):
    """As on the staff page: a row naming no file, or a CSV without a file column, is a draft record."""
    from django.core.management import CommandError, call_command

    from tests.support.media import make_photo

    def run(csv: str, **options) -> str:
        (tmp_path / "items.csv").write_text(csv)
        err = io.StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command(
                "import_catalog", tmp_path / "items.csv", stderr=err, stdout=io.StringIO(), **options
            )
        return err.getvalue()

    errors = run("title,place,status\nQuay,Kiel,\nFerry,Kiel,published\n")  # no file column, no --files
    assert list(Item.objects.values_list("title", "place", "status", "original")) == [
        ("Quay", "Kiel", Item.Status.DRAFT, "")
    ]
    assert "items.csv:3: a row without a file cannot be published" in errors

    scans = tmp_path / "scans"
    make_photo(scans / "dock.png", size=(30, 20))
    errors = run("file,title\ndock.png,Dock\n,Market\nghost.png,Ghost\n", files=scans)
    assert sorted((i.title, i.has_original) for i in Item.objects.exclude(title="Quay")) == [
        ("Dock", True),
        ("Market", False),
    ]
    assert f"items.csv:4: file 'ghost.png' is not in {scans}" in errors

    errors = run("file,title\nmill.png,Mill\n,Barn\n")  # a file named without a folder to take it from
    assert "items.csv:2: file 'mill.png' is named but no folder of files was given (--files)" in errors
    assert Item.objects.filter(title="Barn", original="").exists() and not Item.objects.filter(title="Mill")
    with pytest.raises(CommandError, match="the CSV has no 'file' column naming the files"):
        run("Datei,title\ndock.png,Dock again\n", files=scans)
    assert not Item.objects.filter(title="Dock again").exists()
