"""Typo tolerance: on SQLite a misspelt word is respelled from the catalogue's own words when the search finds
nothing ("Showing results for …"); on PostgreSQL pg_trgm forgives it and nothing is respelled. Run this file on
both (COLORARCHIVE_TEST_SQLITE=1 for SQLite)."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from portal.catalog.models import Item
from portal.gallery.search import has_trigrams, respelled
from tests.support.catalog import add_record

pytestmark = pytest.mark.django_db

SQLITE = pytest.mark.skipif("connection.vendor != 'sqlite'", reason="SQLite's respelling")


@pytest.fixture
def catalogue():
    add_record("Station square", place="Saint-Étienne")
    add_record("Cathedral at dawn", subjects="cathedral; bells")
    add_record("Café du Port", place="Marseille", source_identifier="HM-1923-7")
    add_record("Secret monastery", Item.Status.DRAFT)


def _page(client, **params) -> tuple[str, list[str]]:
    """The search page's "Showing results for" line (or "") and the titles of the items it lists."""
    page = client.get("/search/", params).content.decode()
    line = re.search(r'<p class="corrected" data-corrected>(.*?)</p>', page)
    titles = re.findall(r"<h3>.*?<a href=\"/items/\d+/\">([^<]+)</a></h3>", page)
    return (re.sub(r"<[^>]+>", "", line.group(1)) if line else ""), titles


@SQLITE
@pytest.mark.parametrize(
    ("typed", "meant", "title"),
    [
        ("Etiene", "etienne", "Station square"),
        ("ÉTIENE", "etienne", "Station square"),  # accents and case folded before respelling
        ("saint-étiene", "saint-etienne", "Station square"),
        ("cathedrall", "cathedral", "Cathedral at dawn"),
        ("Catedral", "cathedral", "Cathedral at dawn"),
        ("marseile cafe", "marseille cafe", "Café du Port"),
    ],
)
def test_on_sqlite_a_misspelt_word_is_searched_as_the_catalogue_spells_it(
    client, catalogue, typed, meant, title
):
    assert respelled({"q": typed}) == meant
    line, titles = _page(client, q=typed)
    assert line == f"Showing results for “{meant}”. Nothing matches “{typed}” as written."
    assert titles == [title]
    page = client.get("/search/", {"q": typed}).content.decode()
    assert f'name="q" value="{typed}"' in page  # the form keeps the words as typed


@SQLITE
def test_on_sqlite_words_that_find_something_or_cannot_be_respelled_are_left_alone(client, catalogue):
    assert respelled({"q": "etienne"}) is None  # found as typed
    assert _page(client, q="étienne") == ("", ["Station square"])
    assert respelled({"q": "cathedral marseille"}) is None  # both words known, in no item together
    assert respelled({"q": "monastry"}) is None  # a draft's words are never suggested
    assert respelled({"q": "HM-1924-7"}) is None  # digits are not respelled: one off is another record
    assert respelled({"q": "Etiene", "type": Item.Type.MOVING_IMAGE}) is None  # no film matches it either
    assert respelled({"q": "zzzzqx"}) is None
    assert _page(client, q="zzzzqx") == ("", [])


@SQLITE
def test_on_sqlite_the_words_follow_the_catalogue(client, catalogue):
    assert respelled({"q": "monastry"}) is None
    Item.objects.get(title="Secret monastery").publish()  # a new catalogue version: its words are read again
    assert respelled({"q": "monastry"}) == "monastery"
    assert _page(client, q="monastry")[1] == ["Secret monastery"]


def test_on_postgresql_trigrams_forgive_typos_and_nothing_is_respelled(client, catalogue):
    if connection.vendor != "postgresql" or not has_trigrams():
        pytest.skip("PostgreSQL with pg_trgm")
    for typed, title in (("Etiene", "Station square"), ("cathedrall", "Cathedral at dawn")):
        assert respelled({"q": typed}) is None
        assert _page(client, q=typed) == ("", [title])
