"""Headless Chromium: a CSV saved by a European spreadsheet (semicolons, Windows-1252) is imported through the
column drop-downs, one of its rows without a file; the file is attached to that record afterwards and a real
worker makes its preview. Screenshots go to test-artifacts/."""

from __future__ import annotations

import time

import pytest

from portal.catalog.models import Item
from tests.support.browser import shot, sign_in
from tests.support.catalog import excel_csv
from tests.support.media import make_photo

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROWS = [
    ["Datei", "Bezeichnung", "Ort", "Jahr", "Bemerkung"],
    ["hafen_1923.png", "Hafen von Saint-Étienne", "Loire", "1923", "Kräne; Schiffe, Arbeiter"],
    ["", "Bürgermeisteramt (noch kein Scan)", "Köln", "1931", "Fassade, Portal"],
]


def test_a_semicolon_cp1252_csv_is_mapped_previewed_imported_and_a_file_attached_later(
    browser,
    live_server,
    live_worker,
    staff_user,
    tmp_path,
):
    (tmp_path / "liste.csv").write_bytes(excel_csv(ROWS, ";", "cp1252"))
    photo = make_photo(tmp_path / "hafen_1923.png", size=(64, 48))
    scan = make_photo(tmp_path / "amt_1931.png", size=(66, 48))
    url = live_server.url
    page = sign_in(browser, url, "curator", "/catalog/import/", 1000)

    page.set_input_files("input[name=csv_file]", str(tmp_path / "liste.csv"))
    page.click("button:has-text('Read the columns')")
    assert "semicolon-separated, Windows-1252, 5 columns" in page.locator("[data-csv-format]").inner_text()
    assert page.locator("select[name=map_file]").input_value() == "Datei"  # guessed from the names
    assert page.locator("select[name=map_place]").input_value() == "Ort"
    assert page.locator("select[name=map_title]").input_value() == ""  # "Bezeichnung": left to staff
    # the preview follows the drop-downs (site.js fetches it again on each change)
    page.select_option("select[name=map_title]", "Bezeichnung")
    page.locator("[data-preview-table]", has_text="Hafen von Saint-Étienne").wait_for()
    page.select_option("select[name=map_description]", "Bemerkung")
    page.locator("[data-preview-table]", has_text="Fassade, Portal").wait_for()
    record_row = page.locator("[data-preview-line='3']").inner_text()
    assert "none: attach later" in record_row and "Köln" in record_row and "ok" in record_row
    shot(page, "csv-import-mapping")

    page.set_input_files("input[name=files]", str(photo))
    page.click("button:has-text('Import')")
    assert "2 item(s) imported" in page.locator(".messages").inner_text()
    shot(page, "csv-import-report")
    page.click("a:has-text('Bürgermeisteramt (noch kein Scan)')")
    assert page.locator("[data-action=publish]").count() == 0  # nothing to publish without a file
    assert "Köln" in page.locator(".compact-dl").inner_text()
    shot(page, "csv-import-record-without-file")

    page.set_input_files("[data-attach] input[name=file]", str(scan))
    page.click("[data-action=attach]")
    assert "amt_1931.png is attached" in page.locator(".messages").inner_text()
    record = Item.objects.get(title="Bürgermeisteramt (noch kein Scan)")
    assert record.original.read() == scan.read_bytes() and record.description == "Fassade, Portal"
    deadline = time.monotonic() + 300
    while not Item.objects.filter(pk=record.pk).exclude(preview="").exists():  # the worker makes the preview
        assert time.monotonic() < deadline, live_worker.log.read_text()[-3000:]
        time.sleep(1)
    page.reload()
    page.click("[data-action=publish]")
    assert "is published" in page.locator(".messages").inner_text()
    shot(page, "csv-import-file-attached")
