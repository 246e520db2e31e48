"""The cache is never a single point of failure (RELIABILITY.md): with its Redis (broker and cache in one, as
docker/compose.yaml runs it) stopped, visitors get the public pages uncached, staff can upload and ask for
colorizations, /api/token/ answers; an edit made meanwhile shows once Redis is back with everything it had."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from portal.broker import QUEUE_DOWN_MESSAGE
from portal.catalog.models import Collection, Item
from portal.jobs.models import ColorizationRequest, ColorModel
from tests.support.catalog import stub_item, stub_result
from tests.support.media import make_photo
from tests.support.services import RedisServer, require_service
from tests.support.worker import app_on_broker

# saves commit, so the bumps on commit run as in production
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_cache(tmp_path, settings):
    """A private Redis that keeps its data on disk (as compose runs it), as the portal's cache and broker."""
    require_service("redis-server", "fault tests start and stop their own Redis")
    server = RedisServer(tmp_path, persistent=True)
    server.start()
    redis_cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": server.url}
    settings.CACHES = {"default": redis_cache}
    with app_on_broker(server.url):
        yield server
    server.stop()


def _said(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def test_a_cache_outage_serves_pages_uncached_and_loses_no_edit(redis_cache, staff_user, tmp_path):
    coll = Collection.objects.create(title="Harbour", slug="harbour")
    model = ColorModel.objects.create(name="unet-a", checkpoint="models/a.pt", is_default=True)
    harbour = stub_item("Dock cranes", Item.Status.PUBLISHED, collection=coll, place="Kiel")
    stub_result(harbour, model, approved=True)
    visitor = Client(raise_request_exception=False)  # a server error must show as a 500 answer, not a raise
    staff = Client(raise_request_exception=False)
    staff.force_login(staff_user)
    pages = ["/", "/collections/harbour/", harbour.get_absolute_url(), "/api/items/", "/search/?q=dock"]
    assert all("Dock cranes" in visitor.get(url).content.decode() for url in pages)  # now cached

    redis_cache.stop()
    assert [visitor.get(url).status_code for url in pages] == [200] * len(pages)
    with open(make_photo(tmp_path / "pier_1908.png"), "rb") as f:
        upload = staff.post(reverse("catalog:upload"), {"files": [f]})
    assert upload.status_code == 302 and QUEUE_DOWN_MESSAGE in _said(upload)
    pier = Item.objects.get(original_name="pier_1908.png")
    submit = staff.post(reverse("jobs:submit", args=[pier.pk]), {"models": [model.pk]})
    assert submit.status_code == 302 and QUEUE_DOWN_MESSAGE in _said(submit)
    assert ColorizationRequest.objects.filter(item=pier).exists()
    token = visitor.post("/api/token/", {"username": "curator", "password": "pass-1234-word"})
    assert token.status_code == 200 and token.json()["token"]
    harbour.title = "Quay cranes"  # its version bump cannot reach the cache
    harbour.save()
    assert all("Quay cranes" in visitor.get(url).content.decode() for url in pages[:-1])

    redis_cache.start()  # with every page it had cached before the outage
    for url in pages[:3]:
        page = visitor.get(url).content.decode()
        assert "Quay cranes" in page and "Dock cranes" not in page, url
    assert [item["title"] for item in visitor.get("/api/items/").json()["results"]] == ["Quay cranes"]
    assert "Dock cranes" not in visitor.get("/search/?q=dock").content.decode()  # its words no longer match
