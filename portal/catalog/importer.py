"""CSV bulk import: each row describes one file; columns map to item fields; every bad row is reported.

The CSV may be what a spreadsheet program writes in much of Europe: UTF-8 with or without a byte-order mark,
else Windows-1252; its separator (comma, semicolon or tab) is read from the header line.

Every row must name its file: an item is made from its original (Item.original and its unique sha256 are
required), so a row describing a photograph that has no scan yet is reported, not imported.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.core.files.base import File

from portal.catalog.ingest import IngestError, add_item, check_upload
from portal.catalog.models import RIGHTS_CHOICES, Collection, Item

DELIMITERS = ",;\t"
TEXT_FIELDS = ("title", "description", "date", "place", "people", "subjects", "creator", "source_archive",
               "source_identifier")  # fmt: skip


@dataclass
class ImportReport:
    created: list[Item] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (CSV line number, message)

    @property
    def ok(self) -> bool:
        return not self.errors


def _year(value: str, column: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit() or not 1000 <= int(value) <= 2100:
        raise ValueError(f"{column} {value!r} is not a year")
    return int(value)


def decode(csv_bytes: bytes) -> str:
    """The CSV's text: UTF-8 (a byte-order mark dropped), else Windows-1252; ValueError when neither."""
    try:
        return csv_bytes.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return csv_bytes.decode("cp1252")
    except UnicodeDecodeError:
        raise ValueError("the CSV file is neither UTF-8 nor Windows-1252 text") from None


def delimiter(text: str) -> str:
    """The separator the header line uses, one of DELIMITERS; a comma when it has a single column."""
    try:
        return csv.Sniffer().sniff(text.partition("\n")[0], delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def row_fields(row: dict[str, str], mapping: dict[str, str]) -> dict:
    """Item fields from one CSV row; raises ValueError naming the column at fault."""
    get = {target: (row.get(column) or "").strip() for target, column in mapping.items()}
    fields: dict = {k: get[k] for k in TEXT_FIELDS if get.get(k)}
    if "title" in fields and len(fields["title"]) > 300:
        raise ValueError("title is longer than 300 characters")
    fields["year_from"] = _year(get.get("year_from", ""), mapping.get("year_from", "year_from"))
    fields["year_to"] = _year(get.get("year_to", ""), mapping.get("year_to", "year_to"))
    if fields["year_from"] and fields["year_to"] and fields["year_from"] > fields["year_to"]:
        raise ValueError("year_from is after year_to")
    if get.get("rights"):
        if get["rights"] not in dict(RIGHTS_CHOICES):
            raise ValueError(f"rights {get['rights']!r} is not a rightsstatements.org URI")
        fields["rights"] = get["rights"]
    if get.get("status"):
        if get["status"] not in Item.Status.values:
            raise ValueError(f"status {get['status']!r} must be one of {', '.join(Item.Status.values)}")
        fields["status"] = get["status"]
    return fields


def import_csv(
    csv_bytes: bytes,
    files: dict[str, File],
    mapping: dict[str, str],
    *,
    collection: Collection | None = None,
    user=None,
) -> ImportReport:
    """Import every valid row (each in its own transaction) and report the others by line number."""
    report = ImportReport()
    try:
        text = decode(csv_bytes)
    except ValueError as exc:
        report.errors.append((1, str(exc)))
        return report
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter(text))
    header = reader.fieldnames or []
    # A field left at its default column (its own name) is optional: skipped when the CSV has no such column.
    mapping = {t: c for t, c in mapping.items() if c in header or c != t or t == "file"}
    missing = [f"{target} -> {col!r}" for target, col in mapping.items() if col not in header]
    if missing:
        report.errors.append(
            (1, f"column(s) not in the CSV header: {', '.join(missing)}; header: {', '.join(header)}")
        )
        return report
    by_name = {PurePath(name).name: f for name, f in files.items()}
    # First every row is read and checked, writing nothing, so a row the CSV parser or the database would choke
    # on (a NUL byte, a cell over the csv module's 131,072 characters) is reported instead of stopping the import.
    ready = []
    for line, row in _rows(reader, report):
        try:
            ready.append((line, *_checked_row(row, mapping, by_name)))
        except (ValueError, IngestError) as exc:
            report.errors.append((line, str(exc)))
        except ValidationError as exc:
            report.errors.append(
                (line, "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()))
            )
    for line, upload, fields in ready:
        try:
            report.created.append(add_item(upload, user=user, collection=collection, **fields))
        except IngestError as exc:  # e.g. the same file on two rows, or already in the archive
            report.errors.append((line, str(exc)))
    report.errors.sort()
    return report


def _rows(reader: csv.DictReader, report: ImportReport):
    """(line, row) for each row the csv module can read; the others go to the report by line."""
    while True:
        line = reader.line_num + 1  # where the next row starts
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            report.errors.append((line, f"this row cannot be read as CSV ({exc})"))
            continue
        if any("\x00" in (value or "") for value in row.values() if isinstance(value, str)):
            report.errors.append((line, "a cell contains a NUL byte (not text)"))
            continue
        yield line, row


def _checked_row(row: dict, mapping: dict[str, str], by_name: dict[str, File]) -> tuple[File, dict]:
    """The upload and Item fields of one row; ValueError, IngestError or ValidationError saying what is wrong."""
    name = PurePath((row.get(mapping["file"]) or "").strip()).name
    if not name:
        raise ValueError(
            f"this row names no file (its {mapping['file']!r} column is empty); every item is made from its "
            "original, so import the row with its file"
        )
    upload = by_name.get(name)
    if upload is None:
        raise ValueError(f"file {name!r} was not uploaded with the CSV")
    fields = row_fields(row, mapping)
    probe = Item(original_name=name, **{"title": PurePath(name).stem, **fields})
    probe.full_clean(exclude=["original", "sha256", "collection", "created_by"], validate_unique=False)
    check_upload(upload)
    return upload, fields
