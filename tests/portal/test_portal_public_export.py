"""/catalogue.csv and /catalogue.json: the published catalogue streamed, with the addresses of each item's page,
original, manifest and published colorizations, and nothing else."""

from __future__ import annotations

import csv
import io
import json

import pytest

from portal.catalog.models import Item
from portal.gallery import public_export
from tests.support.catalog import add_item

pytestmark = pytest.mark.django_db


def _body(client, url: str, content_type: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == content_type
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Content-Disposition"] == f'attachment; filename="{url.lstrip("/")}"'
    return b"".join(response.streaming_content).decode()


def test_the_json_export_lists_published_items_and_their_published_colorizations(client, archive):
    rows = json.loads(_body(client, "/catalogue.json", "application/json"))
    dock, film = archive["dock"], archive["film"]
    assert [row["id"] for row in rows] == [dock.pk, film.pk]  # not the draft
    row = rows[0]
    assert set(row) == set(public_export.FIELDS)
    assert (row["title"], row["place"], row["people"], row["rights"], row["collection"]) == (
        "Dock cranes", "Hamburg", "Anna Berg; Karl Maier", "http://rightsstatements.org/vocab/NoC-NC/1.0/", "harbour",
    )  # fmt: skip
    assert row["page_url"] == f"http://testserver/items/{dock.pk}/"
    assert row["manifest_url"] == f"http://testserver/iiif/items/{dock.pk}/manifest"
    assert row["original_url"] == f"http://testserver/files/items/{dock.pk}/original"
    assert row["colorizations"] == [
        {"url": f"http://testserver/files/results/{archive[name].pk}/result", "model": model,
         "version": version, "label": f"AI colorization ({model} v{version})"}
        for name, model, version in (("by_default", "unet", "10"), ("by_other", "unet-bins", "9"))
    ]  # fmt: skip
    for row in rows:  # every address answers anyone
        for url in [row["page_url"], row["original_url"], row["manifest_url"]] + [
            c["url"] for c in row["colorizations"]
        ]:
            assert client.get(url.removeprefix("http://testserver")).status_code == 200, url


def test_the_csv_export_has_the_same_rows_safe_for_spreadsheets(client, archive, tmp_path):
    add_item(tmp_path, "=HYPERLINK(evil)", place="+Kiel", description='line one\nline two, "quoted"')
    text = _body(client, "/catalogue.csv", "text/csv; charset=utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == [*public_export.FIELDS[:-1], "colorization_urls"]
    by_id = {int(row["id"]): row for row in rows}
    dock = by_id[archive["dock"].pk]
    assert dock["colorization_urls"].split() == [
        f"http://testserver/files/results/{archive[name].pk}/result" for name in ("by_default", "by_other")
    ]
    assert dock["manifest_url"] == f"http://testserver/iiif/items/{archive['dock'].pk}/manifest"
    (evil,) = [row for row in rows if "HYPERLINK" in row["title"]]
    assert evil["title"] == "'=HYPERLINK(evil)" and evil["place"] == "'+Kiel"
    assert evil["description"] == 'line one\nline two, "quoted"' and evil["colorization_urls"] == ""


def test_no_export_shows_a_draft_or_an_unapproved_result(client, archive):
    everything = _body(client, "/catalogue.json", "application/json")
    everything += _body(client, "/catalogue.csv", "text/csv; charset=utf-8")
    assert "Secret draft" not in everything
    for hidden in ("unapproved", "failed", "draft_result"):
        assert f"/results/{archive[hidden].pk}/" not in everything, hidden
    archive["dock"].unpublish()
    assert "Dock cranes" not in _body(client, "/catalogue.json", "application/json")
    Item.objects.update(status=Item.Status.DRAFT)
    assert json.loads(_body(client, "/catalogue.json", "application/json")) == []
    assert _body(client, "/catalogue.csv", "text/csv; charset=utf-8").count("\n") == 1  # the header alone
