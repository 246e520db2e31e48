"""The catalogue's metadata as plain files (CSV and JSON), for backups and for other systems.

Items with their Dublin Core-style fields, the stored original's path, SHA-256 and size, and their
colorization results (model, status, approval, result path). A CSV cell that a spreadsheet would run as a
formula (starting with = + - @, a tab or a carriage return) is written with a leading apostrophe; the JSON keeps
every value as it is.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from portal.catalog.models import Item
from portal.jobs.models import ColorizationRequest

ITEM_FIELDS = ["id", "title", "description", "date", "year_from", "year_to", "place", "people", "subjects",
               "creator", "source_archive", "source_identifier", "rights", "type", "collection", "status",
               "original_name", "original", "sha256", "size", "width", "height", "frame_count", "duration",
               "fixity_error", "fixity_checked", "created", "updated", "published_at"]  # fmt: skip
RESULT_FIELDS = ["id", "item", "model", "preset", "options", "status", "error", "approved", "result",
                 "source_sha256", "created", "finished"]  # fmt: skip
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value) -> str | int | float | bool | None:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)  # dates, file fields


def item_rows() -> list[dict]:
    rows = []
    for item in Item.objects.select_related("collection").order_by("pk").iterator():
        row = {
            name: _text(getattr(item, name)) for name in ITEM_FIELDS if name not in ("collection", "original")
        }
        row["collection"] = item.collection.slug if item.collection else ""
        row["original"] = item.original.name
        rows.append({name: row[name] for name in ITEM_FIELDS})
    return rows


def result_rows() -> list[dict]:
    rows = []
    for req in ColorizationRequest.objects.select_related("model").order_by("pk").iterator():
        rows.append({
            "id": req.pk, "item": req.item_id, "model": req.model.name, "preset": req.preset,
            "options": _text(req.options), "status": req.status, "error": req.error, "approved": req.approved,
            "result": req.result.name, "source_sha256": req.provenance.get("source_sha256", ""),
            "created": _text(req.created), "finished": _text(req.finished),
        })  # fmt: skip
    return rows


def safe_cell(value):
    """A cell a spreadsheet shows as text, never runs as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: safe_cell(v) for k, v in row.items()})


def export(folder: Path) -> list[Path]:
    """Write items.csv, items.json, results.csv and results.json into `folder`; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fields, rows in (
        ("items", ITEM_FIELDS, item_rows()),
        ("results", RESULT_FIELDS, result_rows()),
    ):
        write_csv(folder / f"{name}.csv", fields, rows)
        (folder / f"{name}.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
        written += [folder / f"{name}.csv", folder / f"{name}.json"]
    return written
