"""The search ignores accents both ways and case, on PostgreSQL (unaccent + trigram indexes) and on SQLite
(a Python function, and the folded `search_text` column for the words): run this file on both
(COLORARCHIVE_TEST_SQLITE=1 for SQLite)."""

from __future__ import annotations

import pytest
from django.db import connection

from portal.catalog.models import SEARCHED_FIELDS, Item
from portal.catalog.search import fold
from portal.gallery.search import search_items, words_filter
from tests.support.catalog import add_record

pytestmark = pytest.mark.django_db


def _search(**params) -> set[str]:
    return set(search_items({"q": "", **params}).values_list("title", flat=True))


@pytest.fixture
def catalogue():
    add_record("Café du Port", place="Marseille")
    add_record("Old cafe on the corner", people="Zoë Lind; Jürgen Maß")
    add_record("Station square", place="Saint-Étienne", description="The ÉCOLE DES BEAUX-ARTS behind")
    add_record("Etienne's bakery", creator="Studio Ångström")
    add_record("Draft café", Item.Status.DRAFT)
    add_record("A_B crossing")
    add_record("AxB crossing")


def test_accents_are_ignored_both_ways_and_case_too(catalogue):
    both_cafes = {"Café du Port", "Old cafe on the corner"}
    for words in ("cafe", "café", "CAFÉ", "Cafe"):
        assert _search(q=words) == both_cafes, words  # published only: the draft café stays hidden
    for words in ("etienne", "Étienne", "ÉTIENNE"):
        assert _search(q=words) == {"Station square", "Etienne's bakery"}, words
    for words in ("saint-etienne", "SAINT-ÉTIENNE", "Saint-Étienne"):
        assert _search(q=words) == {"Station square"}, words
    assert _search(q="ecole des beaux") == {"Station square"}  # in the description
    assert _search(q="angstrom") == {"Etienne's bakery"}  # the creator; Å is A with a ring
    assert _search(q="zoe") == _search(q="ZOË") == {"Old cafe on the corner"}
    assert _search(q="jurgen") == {"Old cafe on the corner"}


def test_place_and_person_filters_ignore_accents(catalogue):
    assert _search(place="saint-etienne") == {"Station square"}
    assert _search(place="MARSEİLLE".replace("İ", "I")) == {"Café du Port"}
    assert _search(person="zoe lind") == {"Old cafe on the corner"}
    assert _search(q="cafe", person="Jürgen") == {"Old cafe on the corner"}


def test_like_wildcards_in_the_words_are_plain_characters(catalogue):
    assert _search(q="a_b") == {"A_B crossing"}
    assert _search(q="%") == set()


def test_the_public_search_page_and_the_staff_catalogue_ignore_accents(client, staff_client, catalogue):
    page = client.get("/search/", {"q": "etienne"}).content.decode()
    assert "Station square" in page and "Café du Port" not in page
    page = staff_client.get("/catalog/", {"q": "cafe"}).content.decode()
    assert "Café du Port" in page and "Draft café" in page and "Station square" not in page


def test_fold():
    assert fold("Saint-Étienne") == "saint-etienne"
    assert fold("Ångström ÇA") == "angstrom ca"
    assert fold(None) is None


@pytest.mark.service("postgresql", "the indexes exist on PostgreSQL only")
def test_postgresql_serves_the_unaccented_search_from_trigram_indexes(catalogue):
    with connection.cursor() as cursor:
        cursor.execute("SELECT provolatile FROM pg_proc WHERE proname = 'colorarchive_unaccent'")
        assert cursor.fetchone() == ("i",)  # immutable: usable in an index
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
    plan = Item.objects.filter(words_filter("etienne")).explain()
    assert all(f"catalog_item_{field}_trgm" in plan for field in SEARCHED_FIELDS), plan
    plan = Item.objects.filter(place__unaccented__icontains="étienne").explain()
    assert "catalog_item_place_trgm" in plan and "'%ETIENNE%'" in plan, plan  # the pattern folded at planning
