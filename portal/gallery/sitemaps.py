"""What search engines may index: the public home and search pages, each collection with published items, and
every published item (Django's sitemaps framework; /sitemap.xml is the index of the three sections)."""

from __future__ import annotations

from django.contrib.sitemaps import Sitemap
from django.db.models import Max, Q
from django.urls import reverse

from portal.catalog.models import Collection, Item


class PagesSitemap(Sitemap):
    changefreq = "daily"

    def items(self) -> list[str]:
        return ["gallery:home", "gallery:search"]

    def location(self, name: str) -> str:
        return reverse(name)


class CollectionsSitemap(Sitemap):
    """A collection's page answers 404 until it holds a published item, so only those are listed."""

    def items(self):
        published = Q(items__status=Item.Status.PUBLISHED)
        return (
            Collection.objects.annotate(last=Max("items__updated", filter=published))
            .filter(last__isnull=False)
            .order_by("slug")
        )

    def lastmod(self, collection: Collection):
        return collection.last


class ItemsSitemap(Sitemap):
    def items(self):
        return Item.objects.published().only("pk", "updated").order_by("pk")

    def lastmod(self, item: Item):
        return item.updated


SITEMAPS = {"pages": PagesSitemap, "collections": CollectionsSitemap, "items": ItemsSitemap}
