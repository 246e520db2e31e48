"""robots.txt and the sitemap: crawlers are pointed at the public gallery and nothing else."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from portal.catalog.models import Collection, Item
from tests.support.catalog import SITEMAP_NS, sitemap_locs

pytestmark = pytest.mark.django_db


def _item(title: str, status: str, collection=None) -> Item:
    item = Item(title=title, status=status, sha256=title.encode().hex().ljust(64, "0")[:64],
                original_name=f"{title}.png", collection=collection)  # fmt: skip
    item.original.name = f"originals/{title}.png"
    item.save()
    return item


def test_robots_txt_allows_the_gallery_and_names_the_sitemap(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    lines = response.content.decode().splitlines()
    assert "User-agent: *" in lines
    assert "Allow: /" in lines
    for private in ("/catalog/", "/jobs/", "/api/", "/accounts/", "/admin/"):
        assert f"Disallow: {private}" in lines
    assert not any(line.startswith("Disallow:") and line.split(":", 1)[1].strip() in ("/", "/items/", "/search/")
                   for line in lines)  # fmt: skip
    assert "Sitemap: http://testserver/sitemap.xml" in lines


def test_sitemap_lists_published_items_and_public_pages_only(client):
    harbour = Collection.objects.create(title="Harbour", slug="harbour")
    drafts = Collection.objects.create(title="Drafts only", slug="drafts-only")
    Collection.objects.create(title="Empty", slug="empty")
    public = _item("Published dock", Item.Status.PUBLISHED, harbour)
    draft = _item("Draft dock", Item.Status.DRAFT, drafts)
    withdrawn = _item("Withdrawn dock", Item.Status.PUBLISHED, harbour)
    withdrawn.unpublish()

    sections = sitemap_locs(client, "/sitemap.xml")
    assert sorted(sections) == sorted(
        f"http://testserver/sitemap-{name}.xml" for name in ("pages", "collections", "items")
    )
    urls = [
        loc for section in sections for loc in sitemap_locs(client, section.removeprefix("http://testserver"))
    ]
    assert sorted(urls) == sorted(
        [
            "http://testserver/",
            "http://testserver/search/",
            f"http://testserver{harbour.get_absolute_url()}",
            f"http://testserver{public.get_absolute_url()}",
        ]
    )
    for hidden in (draft, withdrawn, drafts):
        assert f"http://testserver{hidden.get_absolute_url()}" not in urls
    assert not any("/catalog/" in u or "/admin/" in u or "/api/" in u or "/jobs/" in u for u in urls)
    # every listed page answers the public
    for url in urls:
        assert client.get(url.removeprefix("http://testserver")).status_code == 200, url


def test_sitemap_shows_an_item_from_its_publication_and_dates_it(client):
    item = _item("Quay", Item.Status.DRAFT)
    assert f"http://testserver{item.get_absolute_url()}" not in sitemap_locs(client, "/sitemap-items.xml")
    item.publish()
    response = client.get("/sitemap-items.xml")
    root = ET.fromstring(response.content)
    (entry,) = root.findall("sm:url", SITEMAP_NS)
    assert entry.find("sm:loc", SITEMAP_NS).text == f"http://testserver{item.get_absolute_url()}"
    item.refresh_from_db()
    assert entry.find("sm:lastmod", SITEMAP_NS).text == item.updated.date().isoformat()


def test_unknown_sitemap_section_is_404(client):
    assert client.get("/sitemap-staff.xml").status_code == 404
    assert reverse("gallery:sitemap") == "/sitemap.xml"
