"""The public sees published items and approved results only, everywhere; only admins train and promote."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.catalog.models import Collection, Item
from portal.jobs.models import ColorModel
from tests.support.catalog import stub_item, stub_result

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    coll = Collection.objects.create(title="Harbour", slug="harbour")
    model = ColorModel.objects.create(name="unet-a", checkpoint="models/a.pt", is_default=True)
    public = stub_item(
        "Published dock",
        Item.Status.PUBLISHED,
        coll,
        place="Hamburg",
        people="Anna Berg",
        year_from=1923,
        year_to=1923,
    )
    draft = stub_item(
        "Secret draft",
        Item.Status.DRAFT,
        coll,
        place="Hamburg",
        people="Anna Berg",
        year_from=1923,
        year_to=1923,
    )
    return {
        "public": public, "draft": draft, "coll": coll,
        "approved": stub_result(public, model, True), "unapproved": stub_result(public, model, False),
        "draft_result": stub_result(draft, model, True),
    }  # fmt: skip


def test_anonymous_pages_never_show_drafts(client, world):
    for url in (reverse("gallery:home"), reverse("gallery:collection", args=["harbour"]),
                reverse("gallery:search") + "?q=dock", reverse("gallery:search") + "?place=Hamburg",
                reverse("gallery:search") + "?person=Anna", reverse("gallery:search") + "?year_from=1920&year_to=1930",
                reverse("gallery:search") + "?q=Secret"):  # fmt: skip
        page = client.get(url).content.decode()
        assert "Secret draft" not in page, url
    assert "Published dock" in client.get(reverse("gallery:search") + "?person=Anna").content.decode()
    assert client.get(reverse("gallery:item", args=[world["draft"].pk])).status_code == 404


def test_anonymous_item_page_shows_only_approved_results_labelled(client, world):
    page = client.get(reverse("gallery:item", args=[world["public"].pk])).content.decode()
    assert reverse("gallery:result_file", args=[world["approved"].pk, "preview"]).rsplit("/", 1)[0] in page
    assert (
        reverse("gallery:result_file", args=[world["unapproved"].pk, "result"]).rsplit("/", 1)[0] not in page
    )
    assert "AI colorization" in page and "unet-a" in page
    assert reverse("gallery:item_file", args=[world["public"].pk, "original"]) in page  # link to the original


def test_anonymous_files_are_checked(client, world):
    assert client.get(reverse("gallery:item_file", args=[world["public"].pk, "original"])).status_code == 200
    assert client.get(reverse("gallery:item_file", args=[world["draft"].pk, "original"])).status_code == 404
    assert client.get(reverse("gallery:item_file", args=[world["draft"].pk, "preview"])).status_code == 404
    assert (
        client.get(reverse("gallery:result_file", args=[world["approved"].pk, "result"])).status_code == 200
    )
    assert (
        client.get(reverse("gallery:result_file", args=[world["unapproved"].pk, "result"])).status_code == 404
    )
    assert (
        client.get(reverse("gallery:result_file", args=[world["draft_result"].pk, "result"])).status_code
        == 404
    )


def test_staff_see_everything(staff_client, world):
    assert (
        staff_client.get(reverse("gallery:item_file", args=[world["draft"].pk, "original"])).status_code
        == 200
    )
    assert (
        staff_client.get(reverse("gallery:result_file", args=[world["unapproved"].pk, "result"])).status_code
        == 200
    )
    assert "Secret draft" in staff_client.get(reverse("catalog:dashboard")).content.decode()


def test_anonymous_api_shows_published_items_and_approved_results(client, world):
    items = client.get("/api/items/").json()["results"]
    assert [i["title"] for i in items] == ["Published dock"]
    assert [r["id"] for r in items[0]["results"]] == [world["approved"].pk]
    assert items[0]["results"][0]["label"].startswith("AI colorization")
    assert client.get(f"/api/items/{world['draft'].pk}/").status_code == 404
    reqs = client.get("/api/requests/").json()["results"]
    assert [r["id"] for r in reqs] == [world["approved"].pk]
    assert client.get(f"/api/requests/{world['unapproved'].pk}/").status_code == 404
    assert client.post("/api/requests/", {"item": world["public"].pk}).status_code in (401, 403)


def test_staff_api_sees_drafts_and_submits_by_token(client, staff_user, world, photo_file):
    from portal.tokens import issue

    auth = {"HTTP_AUTHORIZATION": f"Token {issue(staff_user)[0]}"}
    titles = {i["title"] for i in client.get("/api/items/", **auth).json()["results"]}
    assert titles == {"Published dock", "Secret draft"}
    with open(photo_file, "rb") as f:
        created = client.post("/api/items/", {"file": f, "title": "Via API", "place": "Kiel"}, **auth)
    assert created.status_code == 201, created.content
    assert created.json()["sha256"] and created.json()["status"] == "draft"
    response = client.post("/api/requests/", {"item": created.json()["id"], "models": ["unet-a"]},
                           content_type="application/json", **auth)  # fmt: skip
    assert response.status_code == 201 and response.json()[0]["model"] == "unet-a"


def _bytes(response) -> bytes:
    return b"".join(response.streaming_content)


def test_file_addresses_from_the_api_open_with_the_same_token(client, staff_user, django_user_model, world):
    """The API lists result_url and original_url; its token opens them as a session would."""
    from datetime import timedelta

    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from portal.tokens import issue

    staff = {"HTTP_AUTHORIZATION": f"Token {issue(staff_user)[0]}"}
    results = {r["id"]: r["result_url"] for r in client.get("/api/requests/", **staff).json()["results"]}
    unapproved_url = results[world["unapproved"].pk]
    response = client.get(unapproved_url, **staff)
    assert response.status_code == 200, response.content
    assert _bytes(response) == f"result-{world['unapproved'].pk}".encode()
    assert response["Cache-Control"] == "private, no-cache"
    draft_url = client.get(f"/api/items/{world['draft'].pk}/", **staff).json()["original_url"]
    response = client.get(draft_url, **staff)
    assert response.status_code == 200 and _bytes(response) == b"original-bytes-Secret draft"

    reader = django_user_model.objects.create_user("reader", "reader@example.org", "pass-1234-word")
    non_staff = {"HTTP_AUTHORIZATION": f"Token {issue(reader)[0]}"}
    for auth in ({}, non_staff):
        assert client.get(unapproved_url, **auth).status_code == 404
        assert client.get(draft_url, **auth).status_code == 404
        assert client.get(results[world["approved"].pk], **auth).status_code == 200  # published: anyone

    Token.objects.filter(user=staff_user).update(created=timezone.now() - timedelta(days=365))
    expired = client.get(unapproved_url, **staff)
    assert expired.status_code == 401 and expired["WWW-Authenticate"] == "Token"
    assert client.get(draft_url, HTTP_AUTHORIZATION="Token not-a-token").status_code == 401


def test_only_admins_reach_training(staff_user, admin_account):
    from django.test import Client

    staff, admin = Client(), Client()
    staff.force_login(staff_user)
    admin.force_login(admin_account)
    assert staff.get(reverse("jobs:training")).status_code == 403
    assert admin.get(reverse("jobs:training")).status_code == 200


def test_only_admins_trigger_retraining_or_promote(client, staff_user, admin_account, world):
    from portal.jobs.models import TrainingRun

    other = ColorModel.objects.create(name="unet-b", checkpoint="models/b.pt")
    form = {"form": "train", "train-name": "x", "train-epochs": 1, "train-width": 4}
    response = client.post(reverse("jobs:training"), form)
    assert response.status_code == 302 and "/accounts/login/" in response.url  # anonymous
    assert client.post(reverse("jobs:promote", args=[other.pk])).status_code == 302
    client.force_login(staff_user)
    assert client.post(reverse("jobs:training"), form).status_code == 403
    assert client.post(reverse("jobs:promote", args=[other.pk])).status_code == 403
    assert TrainingRun.objects.count() == 0 and not ColorModel.objects.get(pk=other.pk).is_default
    client.force_login(admin_account)
    client.post(reverse("jobs:promote", args=[other.pk]))
    assert ColorModel.objects.get(is_default=True) == other


def test_anonymous_cannot_reach_staff_pages(client, world):
    for url in (reverse("catalog:dashboard"), reverse("catalog:upload"), reverse("jobs:requests"),
                reverse("catalog:item", args=[world["draft"].pk])):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url
