"""The public gallery: published items only, approved results only. Files go through `serve_*` checks."""

from __future__ import annotations

from pathlib import PurePath

from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models import Count, F, Max, Prefetch, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from portal.catalog.models import Collection, Item
from portal.catalog.permissions import is_staff_member
from portal.gallery.delivery import send_file
from portal.jobs.models import ColorizationRequest, Status


def published_results():
    return ColorizationRequest.objects.filter(status=Status.DONE, approved=True).select_related("model")


def visible_items(user):
    return Item.objects.all() if is_staff_member(user) else Item.objects.published()


def _with_results(items):
    return items.prefetch_related(
        Prefetch("requests", queryset=published_results(), to_attr="public_results")
    )


@require_safe
def home(request):
    recent = (
        Item.objects.published()
        .select_related("collection")
        .order_by(F("published_at").desc(nulls_last=True), "-created")
    )
    items = _with_results(recent)[:12]
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
def collection(request, slug: str):
    coll = get_object_or_404(Collection, slug=slug)
    items = _with_results(Item.objects.published().filter(collection=coll))
    if not items.exists():
        raise Http404("No published items in this collection.")
    page = Paginator(items, 24).get_page(request.GET.get("page"))
    return render(request, "gallery/collection.html", {"collection": coll, "page": page})


@require_safe
def search(request):
    items = Item.objects.published().select_related("collection")
    params = {
        k: request.GET.get(k, "").strip()
        for k in ("q", "place", "person", "collection", "year_from", "year_to", "type")
    }
    if params["q"]:
        q = params["q"]
        items = items.filter(
            Q(title__icontains=q) | Q(description__icontains=q) | Q(place__icontains=q) | Q(people__icontains=q)
            | Q(subjects__icontains=q) | Q(creator__icontains=q) | Q(source_identifier__icontains=q)
        )  # fmt: skip
    if params["place"]:
        items = items.filter(place__icontains=params["place"])
    if params["person"]:
        items = items.filter(people__icontains=params["person"])
    if params["collection"]:
        items = items.filter(collection__slug=params["collection"])
    if params["type"] in Item.Type.values:
        items = items.filter(type=params["type"])
    # Date filters keep every item whose (circa) range overlaps the asked range.
    if params["year_from"].isdigit():
        items = items.filter(
            Q(year_to__gte=int(params["year_from"]))
            | Q(year_to__isnull=True, year_from__gte=int(params["year_from"]))
        )
    if params["year_to"].isdigit():
        items = items.filter(year_from__lte=int(params["year_to"]))
    page = Paginator(_with_results(items), 24).get_page(request.GET.get("page"))
    facets = search_facets()
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "gallery/search.html",
        {
            "page": page,
            "params": params,
            "facets": facets,
            "query": query.urlencode(),
            "types": Item.Type.choices,
        },
    )


def search_facets() -> dict:
    """Places, people and collections of the published catalogue, worked out once per change to it: the cache
    key is the published items' count and latest change, one indexed query instead of reading every item."""
    published = Item.objects.published()
    version = published.aggregate(n=Count("pk"), changed=Max("updated"))
    key = f"search-facets:{version['n']}:{version['changed'].isoformat() if version['changed'] else '-'}"
    facets = cache.get(key)
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
        cache.set(key, facets, 3600)
    return facets


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(";") if p.strip()]


@require_safe
def item(request, pk: int):
    obj = get_object_or_404(Item.objects.published().select_related("collection"), pk=pk)
    results = list(published_results().filter(item=obj).order_by("-model__is_default", "-approved_at"))
    chosen = next(
        (r for r in results if str(r.pk) == request.GET.get("result")), results[0] if results else None
    )
    return render(request, "gallery/item.html", {"item": obj, "results": results, "result": chosen})


# ---- files: every download is checked here (media is never served directly)

ITEM_FILES = {"original": "original", "preview": "preview", "thumbnail": "thumbnail"}
RESULT_FILES = {"result": "result", "preview": "result_preview"}


@require_safe
def serve_item_file(request, pk: int, kind: str):
    if kind not in ITEM_FILES:
        raise Http404
    obj = get_object_or_404(visible_items(request.user), pk=pk)
    field = getattr(obj, ITEM_FILES[kind])
    name = obj.original_name if kind == "original" else PurePath(field.name or "file.jpg").name
    return send_file(request, field, name, download="download" in request.GET, public=obj.is_published)


@require_safe
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
