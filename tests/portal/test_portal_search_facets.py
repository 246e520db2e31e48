"""Facets with counts that follow the search, facet links that narrow it, the sort orders, and (on PostgreSQL)
ranked full-text search and typo tolerance. Run this file on both databases (COLORARCHIVE_TEST_SQLITE=1 for
SQLite; COLORARCHIVE_TEST_DATABASE_URL for a PostgreSQL database of one's own)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.db import connection

from portal.catalog.models import Collection, Item
from portal.gallery.search import facets, search_items
from tests.support.catalog import add_record

pytestmark = pytest.mark.django_db
NOC_NC = "http://rightsstatements.org/vocab/NoC-NC/1.0/"
INC = "http://rightsstatements.org/vocab/InC/1.0/"
postgresql_only = pytest.mark.service("postgresql", "PostgreSQL's search only")


@pytest.fixture
def catalogue():
    harbour = Collection.objects.create(title="Harbour", slug="harbour")
    streets = Collection.objects.create(title="Streets", slug="streets")
    add_record("Dock cranes", collection=harbour, place="Hamburg", people="Anna Berg; Karl Maier",
          subjects="cranes; ships", year_from=1923, year_to=1923, rights=NOC_NC, date="1923")  # fmt: skip
    add_record("Ferry at the quay", collection=harbour, place="Hamburg", people="Anna Berg",
          subjects="ships", year_from=1931, year_to=1933, rights=NOC_NC)  # fmt: skip
    add_record("Tram in Köln", collection=streets, place="Köln", people="Anna Bergmann",
          subjects="trams", year_from=1928, year_to=1931, type=Item.Type.MOVING_IMAGE, rights=INC)  # fmt: skip
    add_record("Café terrace", collection=streets, place="Saint-Étienne", subjects="cafés; streets",
          year_from=1909, year_to=1909, description="Tables outside a café by the harbour wall.")  # fmt: skip
    add_record("Draft ships", Item.Status.DRAFT, collection=harbour, place="Hamburg", subjects="ships")
    return {"harbour": harbour, "streets": streets}


def _titles(**params) -> list[str]:
    return list(search_items({"q": "", **params}).values_list("title", flat=True))


def _counts(found: dict, key: str) -> dict[str, int]:
    return {value: n for value, _, n in found[key]}


def test_facets_count_what_the_search_finds(catalogue):
    everything = facets({})
    assert _counts(everything, "collection") == {"harbour": 2, "streets": 2}  # published only
    assert _counts(everything, "place") == {"Hamburg": 2, "Köln": 1, "Saint-Étienne": 1}
    assert _counts(everything, "person") == {"Anna Berg": 2, "Karl Maier": 1, "Anna Bergmann": 1}
    assert _counts(everything, "subject") == {"ships": 2, "cranes": 1, "trams": 1, "cafés": 1, "streets": 1}
    # a range of years counts in every decade it overlaps (as the year filter finds it)
    assert _counts(everything, "decade") == {"1900": 1, "1920": 2, "1930": 2}
    assert _counts(everything, "type") == {"StillImage": 3, "MovingImage": 1}
    assert _counts(everything, "rights") == {
        NOC_NC: 2,
        INC: 1,
        "http://rightsstatements.org/vocab/CNE/1.0/": 1,
    }
    assert ("harbour", "Harbour", 2) in everything["collection"]
    assert ("1920", "1920s", 2) in everything["decade"]

    harbour_words = facets({"q": "harbour"})  # the café's description (a collection's title is no item field)
    assert _counts(harbour_words, "collection") == {"streets": 1}
    narrowed = facets({"collection": "harbour", "year_from": "1930", "year_to": "1939"})
    assert _counts(narrowed, "person") == {"Anna Berg": 1}
    assert _counts(narrowed, "decade") == {"1930": 1}
    assert facets({"q": "zeppelin"})["place"] == []


def test_a_quoted_entry_is_that_entry_only_ignoring_accents_and_case(catalogue):
    assert set(_titles(person="Anna Berg")) == {"Dock cranes", "Ferry at the quay", "Tram in Köln"}
    assert set(_titles(person='"Anna Berg"')) == {"Dock cranes", "Ferry at the quay"}  # not Anna Bergmann
    assert set(_titles(person='"anna berg"')) == {"Dock cranes", "Ferry at the quay"}
    assert _titles(subject='"cafes"') == ["Café terrace"]
    assert _titles(subject='"streets"') == ["Café terrace"]  # the last entry of the list
    assert _titles(place='"saint-etienne"') == ["Café terrace"]
    assert _titles(place='"Saint"') == []  # a whole place, not a part of one
    assert _titles(rights=INC) == ["Tram in Köln"]


def test_the_words_match_in_any_order_across_fields(catalogue):
    assert _titles(q="tram koln") == ["Tram in Köln"]
    assert _titles(q="koln tram") == ["Tram in Köln"]
    assert set(_titles(q="ships anna")) == {"Dock cranes", "Ferry at the quay"}
    assert _titles(q="1923") == ["Dock cranes"]  # the date is searched too


def test_the_sort_orders(catalogue):
    assert _titles(sort="title") == ["Café terrace", "Dock cranes", "Ferry at the quay", "Tram in Köln"]
    assert _titles(sort="date") == ["Café terrace", "Dock cranes", "Tram in Köln", "Ferry at the quay"]
    assert _titles(sort="-date") == ["Ferry at the quay", "Tram in Köln", "Dock cranes", "Café terrace"]
    # relevance: a title match before a match in the description only
    assert _titles(q="cafe") == ["Café terrace"]
    add_record("Harbour wall", description="Seen from the quay.")
    assert _titles(q="harbour") == ["Harbour wall", "Café terrace"]
    assert _titles(q="harbour", sort="relevance") == _titles(q="harbour")
    assert _titles(sort="nonsense") == _titles()  # an unknown sort is the default (newest first)


def _links(page: str, selector: str) -> dict[str, str]:
    """The facet links of one facet on the page: label -> query string."""
    block = re.search(rf'data-facet="{selector}">(.*?)</section>', page, re.S).group(1)
    return {unescape(label): unescape(query) for query, label in
            re.findall(r'<a href="\?([^"]*)"[^>]*><span class="facet-label">([^<]*)</span>', block)}  # fmt: skip


def test_facet_links_narrow_the_search_and_the_address_can_be_shared(client, catalogue):
    page = client.get("/search/", {"q": "anna"}).content.decode()
    assert "3 items" in page
    people = _links(page, "person")
    assert set(people) == {"Anna Berg", "Anna Bergmann", "Karl Maier"}
    narrowed = client.get(f"/search/?{people['Anna Berg']}").content.decode()
    assert "2 items" in narrowed and "Tram in Köln" not in narrowed
    assert 'data-chosen title="Remove this filter">People: Anna Berg' in narrowed
    decade = _links(narrowed, "decade")["1930s"]
    assert "year_from=1930" in decade and "year_to=1939" in decade and "q=anna" in decade
    once = client.get(f"/search/?{decade}").content.decode()
    assert "1 item" in once and "Ferry at the quay" in once
    selected = _links(once, "decade")["1930s"]  # the selected value's link takes it off again
    assert "year_from" not in selected and "person=" in selected
    chip = re.search(r'<a class="chip" href="\?([^"]*)" data-chosen[^>]*>People', once).group(1)
    assert "person" not in unescape(chip) and "year_from=1930" in unescape(chip)


def test_the_sort_is_in_the_address_and_the_pages_keep_it(client, catalogue):
    page = client.get("/search/", {"sort": "title"}).content.decode()
    assert page.index("Café terrace") < page.index("Dock cranes") < page.index("Tram in Köln")
    assert '<option value="title" selected>' in page
    assert '<option value="relevance"' not in page  # relevance needs words
    page = client.get("/search/", {"q": "harbour"}).content.decode()
    assert '<option value="relevance" selected>' in page


@postgresql_only
def test_postgresql_forgives_typos_and_ranks_full_text_matches(catalogue):
    assert set(_titles(q="hamburk")) == {"Dock cranes", "Ferry at the quay"}  # the last letter wrong
    assert _titles(q="Saint-Etiene") == ["Café terrace"]  # a letter missing, an accent missing
    assert _titles(q="zeppelin") == []
    add_record("Ships", subjects="ships")
    add_record("Quay", description="ships ships ships")
    ranked = _titles(q="ships")
    assert ranked[0] == "Ships"  # the title weighs most (A), the description least (C)


@postgresql_only
def test_postgresql_serves_full_text_from_the_generated_document_and_its_gin_index(catalogue):
    with connection.cursor() as cursor:
        cursor.execute("SELECT search_document::text FROM catalog_item WHERE title = 'Tram in Köln'")
        (document,) = cursor.fetchone()
        assert "'koln':" in document and "'tram':" in document and "A" in document  # unaccented, weighted
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = Item.objects.extra(where=["search_document @@ websearch_to_tsquery('simple', 'tram')"]).explain()
    assert "catalog_item_search_document" in plan, plan
