"""The public pages from the cache (portal/gallery/public_cache.py), and the search's indexes.

Anonymous visitors get pages from the cache; every change to the catalogue shows up at once all the same.
On PostgreSQL the search's words filter and the public lists' order are served by indexes (catalog migration 0006).
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from portal.catalog.models import SEARCHED_FIELDS, Collection, Item
from portal.gallery import public_cache
from portal.gallery.search import search_items, words_filter
from portal.jobs.models import ColorModel
from tests.support.catalog import stub_item, stub_result

pytestmark = pytest.mark.django_db

PAGES = ["/", "/search/", "/search/?q=dock", "/collections/harbour/", "/api/items/"]


@pytest.fixture
def harbour(db) -> Item:
    coll = Collection.objects.create(title="Harbour", slug="harbour")
    model = ColorModel.objects.create(name="unet-a", checkpoint="models/a.pt", is_default=True)
    item = stub_item("Dock cranes", Item.Status.PUBLISHED, collection=coll, place="Kiel")
    stub_result(item, model, approved=True)
    return item


def _pages(client, item: Item) -> dict[str, str]:
    return {url: client.get(url).content.decode() for url in [*PAGES, item.get_absolute_url()]}


def test_anonymous_pages_come_from_the_cache(client, harbour, django_assert_num_queries):
    first = _pages(client, harbour)
    with django_assert_num_queries(
        len(first)
    ):  # each reads the catalogue version's committed half, only that
        again = _pages(client, harbour)
    assert again == first and all("Dock cranes" in page for page in first.values())


def test_signed_in_people_get_their_own_page(client, harbour, staff_user):
    client.get("/")  # cached for visitors
    staff = Client()
    staff.force_login(staff_user)
    page = staff.get("/").content.decode()
    assert "Sign out" in page and "curator" in page
    assert "Sign out" not in client.get("/").content.decode()


def test_edits_and_publication_show_up_at_once(client, harbour):
    _pages(client, harbour)
    harbour.title = "Quay cranes"
    harbour.save()
    pages = _pages(client, harbour)
    assert "Quay cranes" not in pages.pop("/search/?q=dock")  # the words no longer match
    assert all("Quay cranes" in page for page in pages.values()), pages

    newcomer = stub_item("Dock ferry", Item.Status.DRAFT, collection=harbour.collection)
    assert "Dock ferry" not in client.get("/search/?q=dock").content.decode()
    newcomer.publish()
    assert all("Dock ferry" in client.get(url).content.decode() for url in PAGES)
    assert "Dock ferry" in client.get(newcomer.get_absolute_url()).content.decode()

    harbour.unpublish()
    assert client.get(harbour.get_absolute_url()).status_code == 404
    assert not any("Quay cranes" in client.get(url).content.decode() for url in PAGES)


def test_results_and_collections_show_up_at_once(client, harbour):
    other = ColorModel.objects.create(name="unet-b", checkpoint="models/b.pt")
    assert "unet-b" not in client.get(harbour.get_absolute_url()).content.decode()
    stub_result(harbour, other, approved=True)
    assert "unet-b" in client.get(harbour.get_absolute_url()).content.decode()

    harbour.collection.title = "Harbour life"
    harbour.collection.save()
    assert "Harbour life" in client.get("/collections/harbour/").content.decode()
    assert "Harbour life" in client.get("/").content.decode()


def test_the_admins_unpublish_action_reaches_the_cached_pages(client, harbour, admin_account):
    assert "Dock cranes" in client.get("/").content.decode()
    admin = Client()
    admin.force_login(admin_account)
    response = admin.post(
        reverse("admin:catalog_item_changelist"), {"action": "unpublish", "_selected_action": [harbour.pk]}
    )
    assert response.status_code == 302 and not Item.objects.published().exists()
    assert "Dock cranes" not in client.get("/").content.decode()
    assert client.get(harbour.get_absolute_url()).status_code == 404


def test_a_page_read_before_the_commit_is_not_served_after_it(
    client, harbour, django_capture_on_commit_callbacks
):
    """A visitor whose request read the rows after the save but before its commit cached the old page under the
    version of the moment; the bump on commit leaves it behind."""
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            harbour.title = "Quay cranes"
            harbour.save()
            version = public_cache.catalogue_version()
            public_cache.store(
                "page", "http://testserver/", version, (b"<p>Dock cranes, read before</p>", "text/html")
            )
    assert "Quay cranes" in client.get("/").content.decode()


def test_counts_are_worked_out_once_per_version(harbour, django_assert_num_queries):
    items = Item.objects.published()
    assert public_cache.CachedCountPaginator(items, 24).count == 1
    with django_assert_num_queries(1):  # the catalogue version's committed half
        assert public_cache.CachedCountPaginator(items, 24).count == 1
    stub_item("Dock ferry", Item.Status.PUBLISHED)
    assert public_cache.CachedCountPaginator(items, 24).count == 2
    assert public_cache.CachedCountPaginator(Item.objects.filter(pk__in=[]), 24).count == 0  # no SQL at all


def _search(**params) -> set[str]:
    return set(search_items({"q": "", **params}).values_list("title", flat=True))


def test_the_search_finds_words_anywhere_in_any_field(harbour):
    stub_item(
        "Ferry at dusk", Item.Status.PUBLISHED, people="Anna Berg; Karl Berg", source_identifier="INV-1923/7"
    )
    stub_item("Draft crane", Item.Status.DRAFT)
    assert _search(q="CRANE") == {"Dock cranes"}  # any case, published only
    assert _search(q="rl be") == {"Ferry at dusk"}  # inside a word, across a space
    assert _search(q="1923/") == {"Ferry at dusk"}
    assert _search(q="ki") == {"Dock cranes"}  # under three characters: no trigram, still found
    assert _search(q="dock", place="kiel") == {"Dock cranes"}
    assert _search(q="zeppelin") == set()


@pytest.mark.service("postgresql", "the indexes exist on PostgreSQL only")
def test_postgresql_serves_the_search_and_the_lists_from_indexes(harbour):
    with connection.cursor() as cursor:  # a table this small is cheaper to read whole: ask for the indexes
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")  # and leave no other way in than the trigram ones
    plan = Item.objects.filter(words_filter("crane")).explain()
    assert all(f"catalog_item_{field}_trgm" in plan for field in SEARCHED_FIELDS), plan
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_indexscan = on")
        cursor.execute("SET LOCAL enable_sort = off")
    assert "published_newest" in Item.objects.published()[:24].explain()
    home = Item.objects.published().order_by("-published_at", "-created", "-id")[:12]
    assert "published_recent" in home.explain()


def test_list_pages_mark_the_items_with_a_colorization_and_the_api_names_their_files(client, harbour):
    bare = stub_item("Dock ferry", Item.Status.PUBLISHED, collection=harbour.collection)
    page = client.get("/collections/harbour/").content.decode()
    assert page.count("AI colorization available") == 1
    assert (
        page.index("Dock ferry") < page.index("Dock cranes") < page.index("AI colorization available")
    )  # newest first
    items = {i["id"]: i for i in client.get("/api/items/").json()["results"]}
    result = harbour.requests.get()
    assert items[harbour.pk]["original_url"] == f"http://testserver/files/items/{harbour.pk}/original"
    assert (
        items[harbour.pk]["results"][0]["result_url"] == f"http://testserver/files/results/{result.pk}/result"
    )
    assert items[bare.pk]["preview_url"] == f"http://testserver/files/items/{bare.pk}/preview"
