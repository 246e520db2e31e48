"""/api/items/ filters: collection, years, place, type, has a colorization, modified since (and /api/requests/'s:
item, status, model, approved, modified since); a bad value is a 400
that names it; the public never finds a draft or an unapproved result through them. Runs on SQLite and on
PostgreSQL (COLORARCHIVE_TEST_SQLITE=1 or a COLORARCHIVE_TEST_DATABASE_URL picks the database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portal.catalog.models import Collection, Item
from portal.jobs.models import ColorModel
from tests.support.catalog import add_item, add_result

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(archive, tmp_path):
    """The archive (Dock cranes 1923 in Hamburg, a film, a draft, all in Harbour) and a few more."""
    streets = Collection.objects.create(title="Streets", slug="streets")
    model = ColorModel.objects.get(name="unet")
    found = dict(archive)
    found["market"] = add_item(tmp_path, "Market day", collection=streets, place="Saint-Étienne",
                               year_from=1920, year_to=1925)  # fmt: skip
    found["fair"] = add_item(tmp_path, "Fair", collection=streets, place="Lyon", year_from=1931)
    found["pending"] = add_result(tmp_path, found["market"], model, approved=False)
    Item.objects.filter(pk=archive["dock"].pk).update(year_from=1923, year_to=1923)
    moments = {"dock": 2024, "film": 2023, "market": 2025, "fair": 2022, "draft": 2025}
    for name, year in moments.items():
        Item.objects.filter(pk=found[name].pk).update(updated=datetime(year, 6, 1, 12, tzinfo=UTC))
    return found


def _titles(client, query: str = "", **extra) -> set[str]:
    response = client.get(f"/api/items/?{query}", **extra)
    assert response.status_code == 200, response.content
    return {item["title"] for item in response.json()["results"]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"Dock cranes", "Tram street", "Market day", "Fair"}),
        ("collection=harbour", {"Dock cranes", "Tram street"}),
        ("collection=streets", {"Market day", "Fair"}),
        ("year_from=1924", {"Market day", "Fair"}),  # 1920-1925 overlaps; 1931 (no end) is after
        ("year_to=1922", {"Market day"}),
        ("year_from=1923&year_to=1923", {"Dock cranes", "Market day"}),
        ("year_from=1926&year_to=1930", set()),
        ("place=hamburg", {"Dock cranes"}),
        ("place=saint-etienne", {"Market day"}),  # without its accent
        ("place=%C3%89TIENNE", {"Market day"}),
        ("type=MovingImage", {"Tram street"}),
        ("type=StillImage&collection=harbour", {"Dock cranes"}),
        ("has_colorization=true", {"Dock cranes", "Tram street"}),  # Market day's result is not approved
        ("has_colorization=false", {"Market day", "Fair"}),
        ("has_colorization=0&collection=streets&place=lyon", {"Fair"}),
        ("modified_since=2024-01-01", {"Dock cranes", "Market day"}),
        ("modified_since=2024-06-01T12:00:00Z", {"Dock cranes", "Market day"}),
        ("modified_since=2024-06-01T12:00:01%2B00:00", {"Market day"}),
        ("modified_since=2024-06-01T14:00:00%2B02:00", {"Dock cranes", "Market day"}),
        ("unknown=ignored", {"Dock cranes", "Tram street", "Market day", "Fair"}),
    ],
)
def test_the_public_list_filters(client, catalogue, query, expected):
    assert _titles(client, query) == expected


def test_staff_filter_drafts_and_unapproved_results_too(client, catalogue, staff_user):
    client.force_login(staff_user)
    assert _titles(client, "collection=harbour") == {"Dock cranes", "Tram street", "Secret draft"}
    assert _titles(client, "has_colorization=true") == {
        "Dock cranes",
        "Tram street",
        "Secret draft",
        "Market day",
    }
    assert _titles(client, "has_colorization=false") == {"Fair"}


def test_filters_never_show_the_public_a_draft_or_an_unapproved_result(client, catalogue):
    for query in (
        "collection=harbour",
        "has_colorization=true",
        "modified_since=2025-01-01",
        "type=StillImage",
    ):
        response = client.get(f"/api/items/?{query}")
        text = response.content.decode()
        assert "Secret draft" not in text, query
        for hidden in ("unapproved", "failed", "draft_result", "pending"):
            assert f"/results/{catalogue[hidden].pk}/" not in text, (query, hidden)


@pytest.mark.parametrize(
    ("query", "parameter", "says"),
    [
        ("collection=nowhere", "collection", "There is no collection 'nowhere'."),
        ("collection=not%20a%20slug", "collection", "slug"),
        ("year_from=abc", "year_from", "A valid integer is required."),
        ("year_to=-5", "year_to", "greater than or equal to 0"),
        ("year_from=1930&year_to=1920", "year_to", "year_to is before year_from."),
        ("type=Photo", "type", '"Photo" is not a valid choice.'),
        ("has_colorization=maybe", "has_colorization", "Must be a valid boolean."),
        ("modified_since=yesterday", "modified_since", "Datetime has wrong format."),
        ("place=" + "x" * 201, "place", "no more than 200 characters"),
    ],
)
def test_a_bad_value_is_a_400_naming_it(client, catalogue, query, parameter, says):
    for attempt in range(2):  # the public list's cache keeps no answer for it
        response = client.get(f"/api/items/?{query}")
        assert response.status_code == 400, (attempt, response.content)
        errors = response.json()
        assert list(errors) == [parameter]
        assert says in " ".join(errors[parameter]), errors


def test_a_single_item_ignores_the_list_filters(client, catalogue):
    dock = catalogue["dock"]
    assert client.get(f"/api/items/{dock.pk}/?year_from=abc").status_code == 200


def _request_ids(client, query: str = "") -> set[int]:
    response = client.get(f"/api/requests/?{query}")
    assert response.status_code == 200, response.content
    return {result["id"] for result in response.json()["results"]}


def test_the_request_list_filters_within_what_the_caller_may_see(client, catalogue, staff_user):
    """/api/requests/ takes item, status, model, approved and modified_since; the public's list stays the
    approved results of published items whatever the filters ask for."""
    ids = {name: catalogue[name].pk for name in catalogue if hasattr(catalogue[name], "model_id")}
    dock, market = catalogue["dock"].pk, catalogue["market"].pk
    assert _request_ids(client, "model=unet") == {ids["by_default"], ids["film_result"]}
    assert _request_ids(client, f"item={dock}") == {ids["by_default"], ids["by_other"]}
    assert _request_ids(client, "approved=false") == set()  # the public never sees unapproved results
    assert _request_ids(client, f"item={market}") == set()
    client.force_login(staff_user)
    assert _request_ids(client, "approved=false") == {ids["unapproved"], ids["pending"]}
    assert _request_ids(client, "status=failed") == {ids["failed"]}
    assert _request_ids(client, "model=unet-bins&approved=false") == {ids["unapproved"]}
    assert _request_ids(client, f"item={market}") == {ids["pending"]}
    catalogue["pending"].__class__.objects.filter(pk=ids["pending"]).update(
        updated=datetime(2030, 1, 1, tzinfo=UTC)
    )
    assert _request_ids(client, "modified_since=2029-12-31") == {ids["pending"]}


@pytest.mark.parametrize(
    ("query", "parameter", "says"),
    [
        ("model=nowhere", "model", "There is no model 'nowhere'."),
        ("status=lost", "status", '"lost" is not a valid choice.'),
        ("approved=maybe", "approved", "Must be a valid boolean."),
        ("item=abc", "item", "A valid integer is required."),
        ("modified_since=yesterday", "modified_since", "Datetime has wrong format."),
    ],
)
def test_a_bad_request_filter_is_a_400_naming_it(client, catalogue, query, parameter, says):
    response = client.get(f"/api/requests/?{query}")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert list(errors) == [parameter] and says in " ".join(errors[parameter]), errors
