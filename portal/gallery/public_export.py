"""The public catalogue as one file, CSV or JSON, for anyone to reuse: published items only, their Dublin Core
fields and the addresses of their page, original, IIIF manifest and published colorizations (done and approved).

Both are streamed row by row (items read in chunks), so the size of the catalogue never sits in memory. The staff
backup of everything (drafts, results of every state, stored paths) is portal/catalog/export.py; the CSV cells
here are made safe for spreadsheets the same way (safe_cell).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator

from django.db.models import Prefetch
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import reverse
from django.views.decorators.http import require_safe

from portal.catalog.export import safe_cell
from portal.catalog.models import Item
from portal.gallery.iiif import AI_LABEL, open_to_any_origin
from portal.gallery.views import published_results

FIELDS = ["id", "title", "description", "date", "year_from", "year_to", "place", "people", "subjects", "creator",
          "source_archive", "source_identifier", "rights", "type", "collection", "updated",
          "page_url", "original_url", "manifest_url", "colorizations"]  # fmt: skip
CHUNK = 500


def _items():
    results = published_results().order_by("-model__is_default", "-approved_at")
    return (
        Item.objects.published()
        .select_related("collection")
        .prefetch_related(Prefetch("requests", queryset=results, to_attr="public_results"))
        .order_by("pk")
        .iterator(chunk_size=CHUNK)
    )


def rows(request: HttpRequest) -> Iterator[dict]:
    """One dict per published item; `colorizations` is a list of {url, model, version, label}."""

    def url(name: str, *args) -> str:
        return request.build_absolute_uri(reverse(name, args=args))

    for item in _items():
        yield {
            "id": item.pk, "title": item.title, "description": item.description, "date": item.date,
            "year_from": item.year_from, "year_to": item.year_to, "place": item.place, "people": item.people,
            "subjects": item.subjects, "creator": item.creator, "source_archive": item.source_archive,
            "source_identifier": item.source_identifier, "rights": item.rights, "type": item.type,
            "collection": item.collection.slug if item.collection else "", "updated": item.updated.isoformat(),
            "page_url": url("gallery:item", item.pk),
            "original_url": url("gallery:item_file", item.pk, "original"),
            "manifest_url": url("gallery:iiif_item", item.pk),
            "colorizations": [
                {"url": url("gallery:result_file", r.pk, "result"), "model": r.model.name,
                 "version": str(r.provenance.get("model_version") or r.model.version),
                 "label": f"{AI_LABEL} ({r.model_label})"}
                for r in item.public_results
            ],
        }  # fmt: skip


class _Line:
    """What csv.writer writes to: hands each line back instead of keeping it."""

    def write(self, line: str) -> str:
        return line


def csv_lines(request: HttpRequest) -> Iterator[str]:
    """The CSV: one line per item, its colorizations' addresses separated by spaces (`colorization_urls`)."""
    writer = csv.writer(_Line())
    header = [*FIELDS[:-1], "colorization_urls"]
    yield writer.writerow(header)
    for row in rows(request):
        urls = " ".join(c["url"] for c in row.pop("colorizations"))
        yield writer.writerow([safe_cell(v) for v in (*row.values(), urls)])


def json_chunks(request: HttpRequest) -> Iterator[str]:
    """A JSON array, one item per line."""
    yield "["
    separator = "\n"
    for row in rows(request):
        yield separator + json.dumps(row, ensure_ascii=False)
        separator = ",\n"
    yield "\n]\n"


def _download(lines: Iterator[str], content_type: str, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_safe
@open_to_any_origin
def catalogue_csv(request):
    return _download(csv_lines(request), "text/csv; charset=utf-8", "catalogue.csv")


@require_safe
@open_to_any_origin
def catalogue_json(request):
    return _download(json_chunks(request), "application/json", "catalogue.json")
