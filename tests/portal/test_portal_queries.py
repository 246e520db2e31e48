"""List pages run a constant number of queries whatever their length (no query per item)."""

from __future__ import annotations

import pytest

from portal.catalog.models import Collection, Item
from portal.gallery import public_cache
from portal.jobs.models import ColorizationRequest, ColorModel, Status

pytestmark = pytest.mark.django_db

# the most queries each page may run when it is rendered (not served from the cache), for 5 items and for 50;
# each look into the public cache reads the catalogue version's committed half (portal/gallery/public_cache.py)
PAGES = {
    "/": 5,
    # the facets with counts that follow the search (one query over the matching rows), the place and people
    # lists and the near-spelling check (PostgreSQL's pg_trgm, looked up once) come on top of the list itself
    "/search/": 12,
    "/search/?q=harbour&place=Kiel": 15,
    "/collections/harbour/": 6,
    "/items/{first}/": 3,
    "/api/items/": 5,
    "/api/requests/": 2,
}


def _catalogue(n: int) -> Item:
    coll = Collection.objects.create(title="Harbour", slug="harbour")
    default = ColorModel.objects.create(name="unet-a", checkpoint="a.pt", is_default=True)
    other = ColorModel.objects.create(name="unet-b", checkpoint="b.pt")
    for i in range(n):
        item = Item(title=f"Harbour {i}", status=Item.Status.PUBLISHED, sha256=f"{i:064x}", original_name="a.png",
                    collection=coll, place=f"Kiel {i % 7}", people=f"Anna {i}; Karl")  # fmt: skip
        item.original.name, item.preview.name, item.thumbnail.name = "o.png", "p.jpg", "t.jpg"
        item.save()
        for model in (default, other):
            req = ColorizationRequest(
                item=item, model=model, preset="photo", status=Status.DONE, approved=True
            )
            req.result.name = "r.jpg"
            req.save()
    return Item.objects.order_by("pk").first()


@pytest.mark.parametrize("n", [5, 50])
def test_public_list_pages_run_a_constant_number_of_queries(client, n, django_assert_max_num_queries):
    first = _catalogue(n)
    for url, most in PAGES.items():
        public_cache.bump()  # rendered, not served from the cache
        with django_assert_max_num_queries(most):
            response = client.get(url.format(first=first.pk))
        assert response.status_code == 200, url
    assert len(client.get("/api/items/").json()["results"]) == min(n, 50)


@pytest.mark.parametrize("n", [5, 50])
def test_staff_api_list_runs_a_constant_number_of_queries(
    client, staff_user, n, django_assert_max_num_queries
):
    from portal.tokens import issue

    _catalogue(n)
    auth = {"HTTP_AUTHORIZATION": f"Token {issue(staff_user)[0]}"}
    with django_assert_max_num_queries(6):  # one reads the catalogue version, for the cached count
        results = client.get("/api/items/", **auth).json()["results"]
    assert len(results) == n and all(len(r["results"]) == 2 for r in results)


def test_search_facets_follow_the_published_catalogue(client):
    _catalogue(10)  # places repeat: Kiel 0 to Kiel 6
    page = client.get("/search/").content.decode()
    assert page.count('<option value="Kiel 1">') == 1 and page.count('<option value="Karl">') == 1
    for item in Item.objects.filter(place="Kiel 2"):  # items 2 and 9
        item.place = "Lübeck"
        item.save()
    page = client.get("/search/").content.decode()
    assert "Lübeck" in page and "Kiel 2" not in page
