"""What a public item page tells search engines and link previews: schema.org JSON-LD and Open Graph.

The JSON-LD is a graph of the original (a Photograph that is an ImageObject, or a VideoObject) and each published
colorization, which `isBasedOn` the original and the model (a SoftwareApplication with its version) and carries
the IPTC digital source type for media made with a trained model, so the AI disclosure travels with it. The JSON
is escaped for a <script> element: `<`, `>` and `&` become \\u escapes, so no value can close the element.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from portal.catalog.models import Item
from portal.gallery.iiif import AI_LABEL, AI_NOTE, CONTENT_TYPE, credit_line
from portal.jobs.models import ColorizationRequest

AI_SOURCE_TYPE = "https://schema.org/CompositeWithTrainedAlgorithmicMediaDigitalSource"
SCRIPT_SAFE = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def script_json(data: dict) -> SafeString:
    """`data` as JSON that can sit inside a <script> element whatever its strings hold."""
    return mark_safe(json.dumps(data, ensure_ascii=False).translate(SCRIPT_SAFE))


def _iso_duration(seconds: float) -> str:
    return f"PT{timedelta(seconds=seconds).total_seconds():g}S"


def _media_type(item: Item) -> str | list[str]:
    return "VideoObject" if item.is_film else ["Photograph", "ImageObject"]


def _dimensions(item: Item) -> dict:
    found: dict = {}
    if item.width and item.height:
        found |= {"width": item.width, "height": item.height}
    if item.is_film and item.duration:
        found["duration"] = _iso_duration(item.duration)
    return found


def item_graph(request: HttpRequest, item: Item, results: list[ColorizationRequest]) -> dict:
    def url(name: str, *args) -> str:
        return request.build_absolute_uri(reverse(name, args=args))

    page = url("gallery:item", item.pk)
    original_id = f"{page}#original"
    original: dict = {
        "@type": _media_type(item),
        "@id": original_id,
        "name": item.title,
        "url": page,
        "contentUrl": url("gallery:item_file", item.pk, "original"),
        "license": item.rights,
        "creditText": credit_line(item),
        **_dimensions(item),
    }
    optional = {
        "description": item.description,
        "dateCreated": item.date,
        "creator": item.creator,
        "identifier": item.source_identifier,
        "keywords": ", ".join(item.subject_list()),
    }
    original |= {key: value for key, value in optional.items() if value}
    if item.place:
        original["contentLocation"] = {"@type": "Place", "name": item.place}
    if item.people_list():
        original["about"] = [{"@type": "Person", "name": name} for name in item.people_list()]
    if item.preview or item.thumbnail:
        original["thumbnailUrl"] = url(
            "gallery:item_file", item.pk, "preview" if item.preview else "thumbnail"
        )
    if item.published_at:
        original["uploadDate" if item.is_film else "datePublished"] = item.published_at.isoformat()
    if item.collection:
        original["isPartOf"] = {
            "@type": "Collection",
            "name": item.collection.title,
            "url": request.build_absolute_uri(item.collection.get_absolute_url()),
        }
    original["subjectOf"] = {
        "@type": "CreativeWork",
        "name": "IIIF manifest",
        "url": url("gallery:iiif_item", item.pk),
        "encodingFormat": CONTENT_TYPE,
    }
    graph = [original]
    for result in results:
        version = result.provenance.get("model_version") or result.model.version
        model = {"@type": "SoftwareApplication", "name": result.model.name}
        if version:
            model["softwareVersion"] = str(version)
        colorized: dict = {
            "@type": _media_type(item),
            "@id": f"{page}#colorization-{result.pk}",
            "name": f"{item.title} ({AI_LABEL}, {result.model_label})",
            "description": f"{AI_LABEL} by the model {result.model_label}. {AI_NOTE}",
            "url": f"{page}?result={result.pk}",
            "contentUrl": url("gallery:result_file", result.pk, "result"),
            "isBasedOn": [{"@id": original_id}, model],
            "digitalSourceType": AI_SOURCE_TYPE,
            "creditText": credit_line(item),
            **_dimensions(item),
        }
        if result.result_preview:
            colorized["thumbnailUrl"] = url("gallery:result_file", result.pk, "preview")
        if result.approved_at:
            colorized["uploadDate" if item.is_film else "datePublished"] = result.approved_at.isoformat()
        graph.append(colorized)
    return {"@context": "https://schema.org", "@graph": graph}


def open_graph(request: HttpRequest, item: Item, shown: ColorizationRequest | None) -> list[tuple[str, str]]:
    """(property, content) pairs for the page's <meta property> tags; the template escapes them. The picture is
    the colorization shown, said to be one, else the original's preview."""

    def url(name: str, *args) -> str:
        return request.build_absolute_uri(reverse(name, args=args))

    tags = [
        ("og:site_name", settings.OAI_REPOSITORY_NAME),
        ("og:type", "video.other" if item.is_film else "website"),
        ("og:title", item.title),
        ("og:url", url("gallery:item", item.pk)),
    ]
    description = item.description or (f"{item.title}, {item.date}" if item.date else item.title)
    if shown:
        description = f"{description} ({AI_LABEL} by {shown.model_label}: the colours are estimated.)"
    tags.append(("og:description", description))
    if shown and (shown.result_preview or not item.is_film):
        kind = "preview" if shown.result_preview else "result"
        tags += [
            ("og:image", url("gallery:result_file", shown.pk, kind)),
            ("og:image:alt", f"{AI_LABEL} of {item.title} by the model {shown.model_label}"),
        ]
    elif item.preview:
        tags += [("og:image", url("gallery:item_file", item.pk, "preview")), ("og:image:alt", item.title)]
    return tags
