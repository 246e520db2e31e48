"""IIIF Presentation API 3.0 for viewers and aggregators: a manifest per published item, a collection per
collection that holds one, and the archive's top-level collection (/iiif/collection) that lists those collections
and the published items outside any, so a harvester that knows one address reaches every manifest.

An item's manifest has one canvas for the original and one per published colorization (done and approved), in
the item page's order (the default model's first). A photograph's canvas is painted with an Image, a film's with
a Video (width, height, duration). A colorization's canvas says in its label and metadata that it is an AI
colorization, naming the model and its version. A photograph's image carries its deep zoom tiles as a level-0
ImageService3 once the worker has made them (portal/gallery/deepzoom.py). `rights` is the item's RightsStatements.org URI (the catalogue
stores one of RIGHTS_CHOICES); `requiredStatement` is the credit line. Every address is absolute, made from the
request's host as the API's and OAI-PMH's are. The manifests are plain JSON built here (iiif-prezi3 caps Pillow
below the version the archive decodes uploads with, so it cannot be a dependency of the portal); the tests load
every kind into iiif-prezi3's models, generated from the specification's JSON Schema, installed for the tests
alone (tests/portal/test_portal_iiif.py).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.db.models.fields.files import FieldFile
from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_safe

from portal.catalog.models import Collection, Item
from portal.gallery import deepzoom
from portal.gallery.public_cache import public_page
from portal.jobs.models import ColorizationRequest

CONTEXT = "http://iiif.io/api/presentation/3/context.json"
CONTENT_TYPE = f'application/ld+json;profile="{CONTEXT}"'
AI_LABEL = "AI colorization"
AI_NOTE = "The colours are a machine learning model's estimate, not a record of the original's colours."


def _text(value: str, language: str = "none") -> dict[str, list[str]]:
    """A IIIF language map; the catalogue's own fields carry no language ("none"), our wording is English."""
    return {language: [value]}


def _entry(label: str, value: str) -> dict:
    return {"label": _text(label, "en"), "value": _text(value)}


def _format(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def credit_line(item: Item) -> str:
    """Who to credit (the same line each colorized file's XMP carries)."""
    return item.credit_line()


def item_metadata(item: Item) -> list[tuple[str, str]]:
    """The Dublin Core fields a person reads, as (label, value) pairs, empty ones left out."""
    pairs = [
        ("Date", item.date),
        ("Place", item.place),
        ("People", "; ".join(item.people_list())),
        ("Subjects", "; ".join(item.subject_list())),
        ("Creator", item.creator),
        ("Type", item.get_type_display()),
        ("Collection", item.collection.title if item.collection else ""),
        ("Source", item.source_archive),
        ("Identifier", item.source_identifier),
        ("Rights", item.rights_label()),
    ]
    return [(label, value) for label, value in pairs if value]


def published_colorizations(item: Item) -> list[ColorizationRequest]:
    """The item's done and approved results, in the order its public page shows them (the default model's
    first, then the latest approved)."""
    from portal.gallery.views import published_results  # here, not at the top: the views import this module

    return list(published_results().filter(item=item).order_by("-model__is_default", "-approved_at"))


def image_service(identifier: str) -> dict:
    """The deep zoom pyramid as the painted image's IIIF Image API 3 service (level 0: static tiles); its id is
    the one the pyramid's info.json gives (settings.IIIF_IMAGE_URL)."""
    return {"id": f"{settings.IIIF_IMAGE_URL}/{identifier}", "type": "ImageService3", "profile": "level0"}


class ManifestWriter:
    """One request's addresses: every id and file link is absolute on the request's host."""

    def __init__(self, request: HttpRequest):
        self.request = request

    def url(self, name: str, *args) -> str:
        return self.request.build_absolute_uri(reverse(name, args=args))

    def manifest_id(self, item: Item) -> str:
        return self.url("gallery:iiif_item", item.pk)

    def collection_id(self, collection: Collection) -> str:
        return self.url("gallery:iiif_collection", collection.slug)

    def top_id(self) -> str:
        return self.url("gallery:iiif_top")

    def part_of_top(self) -> list[dict]:
        return [{"id": self.top_id(), "type": "Collection", "label": _text(settings.OAI_REPOSITORY_NAME)}]

    def _canvas(self, item: Item, key: str, label: str, body: dict, rendering: dict, metadata: list) -> dict:
        canvas_id = f"{self.manifest_id(item).removesuffix('/manifest')}/canvas/{key}"
        canvas: dict = {"id": canvas_id, "type": "Canvas", "label": _text(label, "en")}
        if item.width and item.height:
            canvas |= {"width": item.width, "height": item.height}
            body |= {"width": item.width, "height": item.height}
        if item.is_film and item.duration:
            canvas["duration"] = item.duration
            body["duration"] = item.duration
        if metadata:
            canvas["metadata"] = metadata
        canvas["rendering"] = [rendering]
        annotation = {
            "id": f"{canvas_id}/painting",
            "type": "Annotation",
            "motivation": "painting",
            "body": body,
            "target": canvas_id,
        }
        canvas["items"] = [{"id": f"{canvas_id}/page", "type": "AnnotationPage", "items": [annotation]}]
        return canvas

    def _body(self, item: Item, url: str, name: str, identifier: str) -> dict:
        body = {"id": url, "type": "Video" if item.is_film else "Image", "format": _format(name)}
        if not item.is_film and deepzoom.exists(identifier):
            body["service"] = [image_service(identifier)]
        return body

    def _shown(self, item: Item, view: str, pk: int, full: FieldFile, preview: FieldFile) -> tuple[str, str]:
        """The file a viewer paints: a photograph's web preview when there is one (an original may be a TIFF no
        browser shows), a film's full file (its preview is a poster frame)."""
        if preview and not item.is_film:
            return self.url(view, pk, "preview"), preview.name
        return self.url(view, pk, "result" if view == "gallery:result_file" else "original"), full.name

    def original_canvas(self, item: Item) -> dict:
        url, name = self._shown(item, "gallery:item_file", item.pk, item.original, item.preview)
        rendering = {
            "id": self.url("gallery:item_file", item.pk, "original"),
            "type": "Video" if item.is_film else "Image",
            "label": _text("The untouched original", "en"),
            "format": _format(item.original_name),
        }
        body = self._body(item, url, name, deepzoom.item_identifier(item.pk))
        return self._canvas(item, "original", "Original", body, rendering, [])

    def colorization_canvas(self, item: Item, result: ColorizationRequest) -> dict:
        url, name = self._shown(item, "gallery:result_file", result.pk, result.result, result.result_preview)
        rendering = {
            "id": self.url("gallery:result_file", result.pk, "result"),
            "type": "Video" if item.is_film else "Image",
            "label": _text(f"{AI_LABEL}, full file", "en"),
            "format": _format(result.result.name),
        }
        version = result.provenance.get("model_version") or result.model.version
        metadata = [_entry(AI_LABEL, AI_NOTE), _entry("Model", result.model.name)]
        if version:
            metadata.append(_entry("Model version", str(version)))
        label = f"{AI_LABEL} ({result.model_label})"
        body = self._body(item, url, name, deepzoom.result_identifier(result.pk))
        return self._canvas(item, f"colorization-{result.pk}", label, body, rendering, metadata)

    def manifest(self, item: Item, results: list[ColorizationRequest]) -> dict:
        metadata = [_entry(label, value) for label, value in item_metadata(item)]
        if results:
            models = "; ".join(r.model_label for r in results)
            metadata.append(_entry(f"{AI_LABEL}s", f"{models}. {AI_NOTE}"))
        manifest: dict = {
            "@context": CONTEXT,
            "id": self.manifest_id(item),
            "type": "Manifest",
            "label": _text(item.title),
        }
        if item.description:
            manifest["summary"] = _text(item.description)
        manifest |= {
            "metadata": metadata,
            "rights": item.rights,
            "requiredStatement": {
                "label": _text("Attribution", "en"),
                "value": _text(credit_line(item), "en"),
            },
            "homepage": [
                {
                    "id": self.url("gallery:item", item.pk),
                    "type": "Text",
                    "label": _text(item.title),
                    "format": "text/html",
                }
            ],
        }
        if item.thumbnail:
            thumbnail_url = self.url("gallery:item_file", item.pk, "thumbnail")
            thumbnail = {"id": thumbnail_url, "type": "Image", "format": _format(item.thumbnail.name)}
            manifest["thumbnail"] = [thumbnail]
        if item.collection_id:
            manifest["partOf"] = [{"id": self.collection_id(item.collection), "type": "Collection"}]
        else:
            manifest["partOf"] = self.part_of_top()
        manifest["items"] = [self.original_canvas(item)] + [
            self.colorization_canvas(item, r) for r in results
        ]
        return manifest

    def collection(self, collection: Collection, items: list[Item]) -> dict:
        data: dict = {
            "@context": CONTEXT,
            "id": self.collection_id(collection),
            "type": "Collection",
            "label": _text(collection.title),
        }
        if collection.description:
            data["summary"] = _text(collection.description)
        data["homepage"] = [
            {
                "id": self.request.build_absolute_uri(collection.get_absolute_url()),
                "type": "Text",
                "label": _text(collection.title),
                "format": "text/html",
            }
        ]
        data["items"] = [self.manifest_reference(item) for item in items]
        data["partOf"] = self.part_of_top()
        return data

    def manifest_reference(self, item: Item) -> dict:
        return {"id": self.manifest_id(item), "type": "Manifest", "label": _text(item.title)}

    def top_collection(self, collections: list[Collection], loose_items: list[Item]) -> dict:
        """The archive's collection: each collection holding a published item, then the published items that
        belong to none (as manifests), so every published item is reachable from here."""
        return {
            "@context": CONTEXT,
            "id": self.top_id(),
            "type": "Collection",
            "label": _text(settings.OAI_REPOSITORY_NAME),
            "summary": _text(f"Every published collection and item of {settings.OAI_REPOSITORY_NAME}.", "en"),
            "homepage": [
                {
                    "id": self.url("gallery:home"),
                    "type": "Text",
                    "label": _text(settings.OAI_REPOSITORY_NAME),
                    "format": "text/html",
                }
            ],
            "items": [
                {"id": self.collection_id(c), "type": "Collection", "label": _text(c.title)}
                for c in collections
            ]
            + [self.manifest_reference(item) for item in loose_items],
        }


def open_to_any_origin(view: Callable) -> Callable:
    """Viewers on other sites fetch the JSON from their pages' scripts (CORS)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Access-Control-Allow-Origin"] = "*"
        return response

    return wrapper


def _json(data: dict) -> JsonResponse:
    return JsonResponse(data, content_type=CONTENT_TYPE, json_dumps_params={"ensure_ascii": False})


@require_safe
@open_to_any_origin
@public_page
def item_manifest(request, pk: int):
    item = get_object_or_404(Item.objects.published().select_related("collection"), pk=pk)
    return _json(ManifestWriter(request).manifest(item, published_colorizations(item)))


@require_safe
@open_to_any_origin
@public_page
def collection_manifest(request, slug: str):
    coll = get_object_or_404(Collection, slug=slug)
    items = list(Item.objects.published().filter(collection=coll).only("pk", "title").order_by("pk"))
    if not items:
        raise Http404("No published items in this collection.")
    return _json(ManifestWriter(request).collection(coll, items))


@require_safe
@open_to_any_origin
@public_page
def top_collection(request):
    published = Item.objects.published()
    collections = list(
        Collection.objects.filter(pk__in=published.filter(collection__isnull=False).values("collection"))
        .only("slug", "title")
        .order_by("title", "pk")
    )
    loose_items = list(published.filter(collection__isnull=True).only("pk", "title").order_by("pk"))
    return _json(ManifestWriter(request).top_collection(collections, loose_items))
