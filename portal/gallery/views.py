"""The public gallery: published items only, approved results only. Files go through `serve_*` checks, which
a session or an API token passes alike (the API lists these addresses)."""

from __future__ import annotations

from pathlib import PurePath

from django.conf import settings
from django.contrib.sitemaps import views as sitemap_views
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_safe
from django.views.static import serve

from portal.catalog.models import RIGHTS_CHOICES, Collection, Item
from portal.catalog.permissions import is_staff_member
from portal.gallery import deepzoom
from portal.gallery.delivery import PUBLIC_MAX_AGE, send_file
from portal.gallery.iiif import published_colorizations
from portal.gallery.linked_data import item_graph, open_graph, script_json
from portal.gallery.public_cache import CachedCountPaginator, lookup, public_page, store
from portal.gallery.search import (
    SORTS,
    chosen_filters,
    clean_params,
    encode,
    facet_links,
    facets,
    respelled,
    search_items,
)
from portal.gallery.sitemaps import SITEMAPS
from portal.jobs.models import ColorizationRequest, Status
from portal.tokens import accepts_api_token


def published_results():
    return ColorizationRequest.objects.filter(status=Status.DONE, approved=True).select_related("model")


def visible_items(user):
    return Item.objects.all() if is_staff_member(user) else Item.objects.published()


def _mark_colorized(items) -> list[Item]:
    """The listed items, each marked when it has a published colorization (the cards say so): one query for the
    page's ids, no result rows loaded."""
    items = list(items)
    colorized = set(published_results().filter(item__in=items).values_list("item_id", flat=True))
    for item in items:
        item.has_public_result = item.pk in colorized
    return items


@require_safe
@public_page
def home(request):
    # a published item always has published_at (Item.save); the order is the index published_recent's
    recent = (
        Item.objects.published().select_related("collection").order_by("-published_at", "-created", "-id")
    )
    items = _mark_colorized(recent[:12])
    collections = Collection.objects.annotate(
        n=Count("items", filter=Q(items__status=Item.Status.PUBLISHED))
    ).filter(n__gt=0)
    # The default model's latest approved photo result when there is one, else any model's; each query walks
    # an index on approval time (jobs migration: approved_results_*) and stops at the first published photo.
    photos = published_results().filter(item__status=Item.Status.PUBLISHED, item__type=Item.Type.STILL_IMAGE)
    photos = photos.select_related("item").order_by("-approved_at")
    featured = photos.filter(model__is_default=True).first() or photos.first()
    return render(
        request, "gallery/home.html", {"items": items, "collections": collections, "featured": featured}
    )


@require_safe
@public_page
def collection(request, slug: str):
    coll = get_object_or_404(Collection, slug=slug)
    paginator = CachedCountPaginator(Item.objects.published().filter(collection=coll), 24)
    if not paginator.count:
        raise Http404("No published items in this collection.")
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = _mark_colorized(page.object_list)
    return render(request, "gallery/collection.html", {"collection": coll, "page": page})


@require_safe
@public_page
def search(request):
    params = clean_params(request.GET)
    corrected = respelled(params)  # SQLite's typo tolerance; the form keeps the words as typed
    searched = {**params, "q": corrected} if corrected else params
    items = search_items(searched)
    page = CachedCountPaginator(items, 24).get_page(request.GET.get("page"))
    page.object_list = _mark_colorized(page.object_list)
    context = {
        "page": page,
        "params": params,
        "corrected": corrected,
        "facets": search_facets(),
        "facet_links": facet_links(params, facets(searched)),
        "chosen": chosen_filters(params),
        "sorts": [(k, v) for k, v in SORTS.items() if k != "relevance" or params["q"]],
        "query": encode(params),
        "types": Item.Type.choices,
        "rights": RIGHTS_CHOICES,
    }
    return render(request, "gallery/search.html", context)


def search_facets() -> dict:
    """Places, people and collections of the whole published catalogue (the form's suggestions; the facets with
    counts follow the search: portal/gallery/search.py), worked out once per change to it (the catalogue version
    of portal/gallery/public_cache.py), not on every request."""
    published = Item.objects.published()
    version, facets = lookup("search-facets", "")
    if facets is None:
        # order_by(): without it the model's ordering joins the DISTINCT and every row comes back
        places = published.exclude(place="").order_by().values_list("place", flat=True).distinct()
        people = published.exclude(people="").order_by().values_list("people", flat=True).distinct()
        collections = Collection.objects.filter(items__status=Item.Status.PUBLISHED).distinct()
        facets = {
            "places": sorted(places),
            "people": sorted({name for text in people for name in _split(text)}),
            "collections": list(collections),
        }
        store("search-facets", "", version, facets)
    return facets


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(";") if p.strip()]


@require_safe
@public_page
def item(request, pk: int):
    obj = get_object_or_404(Item.objects.published().select_related("collection"), pk=pk)
    results = published_colorizations(obj)
    for result in results:
        result.item = obj  # the comparison names the item's files: no query to fetch it again
    chosen = next(
        (r for r in results if str(r.pk) == request.GET.get("result")), results[0] if results else None
    )
    context = {
        "item": obj,
        "results": results,
        "result": chosen,
        "deep_zoom": deep_zoom_sources(obj, chosen),
        "json_ld": script_json(item_graph(request, obj, results)),
        "open_graph": open_graph(request, obj, chosen),
    }
    return render(request, "gallery/item.html", context)


def deep_zoom_sources(item: Item, result: ColorizationRequest | None) -> list[dict[str, str]]:
    """The pyramids the item page's deep zoom viewer offers (the colorization shown first, then the original):
    those the worker has made; none for a film."""
    if item.is_film:
        return []
    sources = []
    if result is not None:
        label = f"AI colorization ({result.model_label})"
        sources.append({"key": deepzoom.result_identifier(result.pk), "label": label})
    sources.append({"key": deepzoom.item_identifier(item.pk), "label": "Original"})
    return [
        {"label": s["label"], "info": deepzoom.info_path(s["key"])}
        for s in sources
        if deepzoom.exists(s["key"])
    ]


# ---- for crawlers: robots.txt and the sitemap

# Staff pages, the API, sign-in and the admin are no business of a crawler; the gallery (and its files) is.
ROBOTS_DISALLOW = ["/catalog/", "/jobs/", "/api/", "/accounts/", "/admin/"]


@require_safe
def robots_txt(request):
    lines = ["User-agent: *", "Allow: /", *(f"Disallow: {path}" for path in ROBOTS_DISALLOW), ""]
    lines.append(f"Sitemap: {request.build_absolute_uri(reverse('gallery:sitemap'))}")
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")


@require_safe
@public_page
def sitemap_index(request):
    return sitemap_views.index(request, SITEMAPS, sitemap_url_name="gallery:sitemap_section").render()


@require_safe
@public_page
def sitemap_section(request, section: str):
    return sitemap_views.sitemap(request, SITEMAPS, section=section).render()


# ---- files: every download is checked here (media is never served directly)

ITEM_FILES = {"original": "original", "preview": "preview", "thumbnail": "thumbnail"}
RESULT_FILES = {"result": "result", "preview": "result_preview"}


@require_safe
@accepts_api_token
def serve_item_file(request, pk: int, kind: str):
    if kind not in ITEM_FILES:
        raise Http404
    obj = get_object_or_404(visible_items(request.user), pk=pk)
    field = getattr(obj, ITEM_FILES[kind])
    name = obj.original_name if kind == "original" else PurePath(field.name or "file.jpg").name
    return send_file(request, field, name, download="download" in request.GET, public=obj.is_published)


@require_safe
@accepts_api_token
def serve_result_file(request, pk: int, kind: str):
    if kind not in RESULT_FILES:
        raise Http404
    reqs = ColorizationRequest.objects.select_related("item")
    if not is_staff_member(request.user):
        reqs = published_results().filter(item__status=Item.Status.PUBLISHED)
    req = get_object_or_404(reqs, pk=pk)
    field = getattr(req, RESULT_FILES[kind])
    public = req.approved and req.item.is_published
    return send_file(request, field, PurePath(field.name or "result").name, download="download" in request.GET,
                     public=public)  # fmt: skip


@require_safe
def serve_tile(request, path: str):
    """A deep zoom tile or info.json, in the embedded setup only (settings.SERVE_TILES); in production the proxy
    answers /iiif/image/ from the media store and this view is never reached. Only whole, published pyramids are
    there (portal/gallery/deepzoom.py); the hidden folders being written or removed are not served."""
    if not settings.SERVE_TILES or path.startswith(".") or "/." in path:
        raise Http404
    folder = deepzoom.local_folder("")
    if folder is None:
        raise Http404
    response = serve(request, path, document_root=folder)
    response["Cache-Control"] = f"public, max-age={PUBLIC_MAX_AGE}"
    response["Access-Control-Allow-Origin"] = "*"  # IIIF viewers on other sites read info.json
    return response
