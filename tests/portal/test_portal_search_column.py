"""Item.search_text: the searched fields folded and joined, kept by every save, filled by migration 0014, and what
SQLite's search matches against (no Python call per row). The SQLite tests run with COLORARCHIVE_TEST_SQLITE=1."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.catalog.models import SEARCHED_FIELDS, Item
from portal.catalog.search import FUNCTION, fold
from portal.catalog.trash import restore, trash_item
from portal.gallery.search import WEIGHTS, search_items
from tests.support.catalog import add_record

pytestmark = pytest.mark.django_db
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's search path")


def _column(item: Item) -> str:
    return Item.objects.values_list("search_text", flat=True).get(pk=item.pk)


def _titles(**params) -> list[str]:
    return list(search_items({"q": "", **params}).values_list("title", flat=True))


def test_every_save_keeps_the_folded_column():
    item = add_record("Station square", place="Köln")
    assert "station square" in _column(item) and "koln" in _column(item)

    item.place = "Saint-Étienne"
    item.save(update_fields=["place"])  # a partial save of a searched field writes the column too
    assert "saint-etienne" in _column(item) and "koln" not in _column(item)

    item.description = "The ÉCOLE behind"
    item.save()
    assert "the ecole behind" in _column(item)

    item.publish()  # a save that touches no searched field leaves it as it is
    assert _column(item) == item.folded_search_text()

    (bulk,) = Item.objects.bulk_create([Item(title="Maß und Zoë", sha256="f" * 64, original_name="b.png")])
    assert "mass und zoe" in _column(bulk)


def test_the_trash_and_the_migration_fill_the_column():
    item = add_record("Café du Port", people="Jürgen Lind")
    Item.objects.filter(pk=item.pk).update(search_text="")  # as a row stood before migration 0014
    migration = importlib.import_module("portal.catalog.migrations.0014_item_search_text")
    migration.fill(apps, None)
    assert _column(item) == item.folded_search_text() != ""

    entry = trash_item(item)
    item.pk = entry.object_id  # (delete() cleared it)
    assert not Item.objects.filter(pk=item.pk).exists()
    entry.rows = [
        {**row, "fields": {k: v for k, v in row["fields"].items() if k != "search_text"}}
        for row in entry.rows
    ]  # a row trashed before migration 0014
    restore(entry)
    assert "jurgen lind" in _column(item)


@sqlite_only
def test_sqlite_finds_etienne_through_the_column_without_a_python_call_per_row():
    add_record("Station square", place="Saint-Étienne")
    add_record("Bakery", description="Near the port")
    with CaptureQueriesContext(connection) as queries:
        assert _titles(q="etienne") == ["Station square"]
        assert _titles(q="ÉTIENNE") == ["Station square"]
    assert not any(FUNCTION in q["sql"] for q in queries.captured_queries)
    assert all("search_text" in q["sql"] for q in queries.captured_queries)

    Item.objects.filter(title="Station square").update(search_text="")  # the column, not the field, is read
    assert _titles(q="etienne") == []


@sqlite_only
def test_sqlite_relevance_is_the_weighted_count_of_fields_holding_the_words():
    # a phrase never runs from the end of one field into the next
    add_record("Old quay", description="Built 1890", place="Saint-Étienne", subjects="harbour")
    phrase = search_items({"q": "quay built"})  # found (every word somewhere), but no field holds the phrase
    assert dict(phrase.values_list("title", "relevance")) == {"Old quay": 0}
    add_record("Harbour wall", description="The harbour at dawn", people="Anna")
    add_record("Tram", description="Past the harbour")
    add_record("Harbour crane", place="harbour")
    found = search_items({"q": "Harbour"})
    scores = dict(found.values_list("title", "relevance"))
    for item in found:
        expected = sum(w for f, w in WEIGHTS.items() if "harbour" in fold(getattr(item, f)))
        assert scores[item.title] == expected, item.title
    assert scores == {"Harbour crane": 12, "Harbour wall": 10, "Old quay": 4, "Tram": 2}
    assert [i.title for i in found] == ["Harbour crane", "Harbour wall", "Old quay", "Tram"]
    assert set(SEARCHED_FIELDS) == set(WEIGHTS)  # every searched field counts
