"""CSV import in two steps (the columns read and guessed, the first rows previewed, then imported), records
without their file, and the file attached to such a record later."""

from __future__ import annotations

import base64
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse

from portal.catalog.forms import IMPORT_TARGETS
from portal.catalog.importer import guess_mapping
from portal.catalog.models import Item
from tests.support.catalog import excel_csv
from tests.support.media import make_photo

pytestmark = pytest.mark.django_db

ROWS = [
    ["Datei", "Titel", "Ort", "Jahr", "Beschreibung", "Notiz"],
    ["hafen.png", "Hafen von Saint-Étienne", "Loire", "1923", "Kräne; Schiffe, Arbeiter", "x"],
    ["", "Bürgermeisteramt (noch kein Scan)", "Köln", "1931", "Fassade", "y"],
]


def test_columns_are_guessed_from_their_names_in_several_languages_and_dublin_core():
    guess = guess_mapping(
        ["Dateiname", "dc:title", "Lieu", "Année", "Keywords", "Fotograf", "Signatur", "Unrelated"],
        IMPORT_TARGETS,
    )
    assert guess == {
        "file": "Dateiname", "title": "dc:title", "place": "Lieu", "year_from": "Année", "year_to": "Année",
        "subjects": "Keywords", "creator": "Fotograf", "source_identifier": "Signatur",
    }  # fmt: skip


def test_reading_a_semicolon_cp1252_csv_offers_its_columns_guessed_and_previews_the_rows(staff_client):
    page = staff_client.post(
        reverse("catalog:import"), {"csv_file": SimpleUploadedFile("liste.csv", excel_csv(ROWS))}
    ).content.decode()
    assert "liste.csv: semicolon-separated, Windows-1252, 6 columns" in page
    title = re.search(r'<select name="map_title"[^>]*>(.*?)</select>', page, re.S)[1]
    assert '<option value="Titel" selected>Titel</option>' in title and '<option value="Notiz">' in title
    assert re.search(r'<select name="map_people"[^>]*>\s*<option value="" selected>', page)  # nothing guessed
    preview = page.split("data-preview-table", 1)[1]
    assert "Hafen von Saint-Étienne" in preview and "Bürgermeisteramt (noch kein Scan)" in preview
    assert "none: attach later" in preview and "1923" in preview and Item.objects.count() == 0


def test_a_mapping_chosen_by_hand_is_previewed_and_bad_rows_say_why_before_anything_is_imported(staff_client):
    rows = [*ROWS, ["", "", "Bonn", "19x3", "", ""]]
    data = base64.b64encode(excel_csv(rows)).decode()
    page = staff_client.post(reverse("catalog:import"), {
        "csv_data": data, "csv_name": "liste.csv", "action": "preview", "map_file": "Datei", "map_title": "Titel",
        "map_description": "Notiz", "map_year_from": "Jahr",
    }, headers={"X-Import-Preview": "1"}).content.decode()  # fmt: skip
    assert "<html" not in page  # the fragment site.js puts in place
    line4 = re.search(r'data-preview-line="4".*?</tr>', page, re.S)[0]
    assert "Jahr &#x27;19x3&#x27; is not a year" in line4
    line2 = re.search(r'data-preview-line="2".*?</tr>', page, re.S)[0]
    assert "<td>x</td>" in line2 and "Kräne" not in line2  # the description now comes from the Notiz column
    assert Item.objects.count() == 0


def test_import_makes_a_record_without_its_file_that_cannot_be_published_until_one_is_attached(
    staff_client, tmp_path
):
    photo = make_photo(tmp_path / "hafen.png", size=(48, 36))
    scan = make_photo(tmp_path / "amt.png", size=(50, 36))
    mapping = {"map_file": "Datei", "map_title": "Titel", "map_place": "Ort", "map_year_from": "Jahr"}
    page = staff_client.post(reverse("catalog:import"), {
        "csv_data": base64.b64encode(excel_csv(ROWS)).decode(), "action": "import", **mapping,
        "files": [SimpleUploadedFile("hafen.png", photo.read_bytes())],
    }).content.decode()  # fmt: skip
    assert "2 item(s) imported" in page and "no file yet: attach it on its page" in page
    record = Item.objects.get(title="Bürgermeisteramt (noch kein Scan)")
    assert (record.place, record.year_from, record.original.name, record.sha256) == ("Köln", 1931, "", None)
    assert record.status == Item.Status.DRAFT

    item_page = staff_client.get(reverse("catalog:item", args=[record.pk])).content.decode()
    assert "Attach file" in item_page and 'data-action="publish"' not in item_page
    assert staff_client.get(f"/api/items/{record.pk}/").json()["original_url"] is None
    refused = staff_client.post(
        reverse("catalog:item_publish", args=[record.pk]), follow=True
    ).content.decode()
    assert "cannot be published: it has no original yet" in refused
    with pytest.raises(IntegrityError), transaction.atomic():  # whatever path the status takes
        Item.objects.filter(pk=record.pk).update(status=Item.Status.PUBLISHED)

    with open(scan, "rb") as f:
        staff_client.post(reverse("catalog:item_attach", args=[record.pk]), {"file": f})
    record.refresh_from_db()
    assert (
        record.original_name == "amt.png" and len(record.sha256) == 64 and record.size == scan.stat().st_size
    )
    assert record.original.read() == scan.read_bytes() and record.place == "Köln"
    record.publish()
    again = staff_client.post(
        reverse("catalog:item_attach", args=[record.pk]),
        {"file": SimpleUploadedFile("other.png", photo.read_bytes())},
        follow=True,
    ).content.decode()
    assert "an original is never replaced" in again
    record.refresh_from_db()
    assert record.original_name == "amt.png"


def test_a_row_without_a_file_is_refused_when_it_has_no_title_or_asks_to_be_published(staff_client):
    rows = [["file", "title", "status"], ["", "", ""], ["", "Gate", "published"], ["", "Wall", "draft"]]
    page = staff_client.post(reverse("catalog:import"), {
        "csv_file": SimpleUploadedFile("l.csv", excel_csv(rows, ",", "utf-8-sig")), "action": "import",
        "map_file": "file", "map_title": "title", "map_status": "status",
    }).content.decode()  # fmt: skip
    assert "neither a title nor a file" in page and "a row without a file cannot be published" in page
    assert list(Item.objects.values_list("title", flat=True)) == ["Wall"]
