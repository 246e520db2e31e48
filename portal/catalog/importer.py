"""CSV bulk import: each row describes one item; columns map to item fields; every bad row is reported.

The CSV may be what a spreadsheet program writes in much of Europe: UTF-8 with or without a byte-order mark,
else Windows-1252; its separator (comma, semicolon or tab) is read from the header line.

A row that names a file makes an item from that original. A row that names none (a photograph with no scan
yet) makes a draft record: its file is attached later on the item's page, and it cannot be published till then.

The staff page reads the header first (`read`), proposes a column for each field (`guess_mapping`), shows the
first rows as they will be imported (`preview`), then imports (`import_csv`).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.core.files.base import File

from portal.catalog.ingest import IngestError, add_item, add_record, check_upload, title_from_filename
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


ENCODINGS = {"utf-8-sig": "UTF-8", "cp1252": "Windows-1252"}
SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}


def decode_as(csv_bytes: bytes) -> tuple[str, str]:
    """(text, encoding label): UTF-8 (a byte-order mark dropped), else Windows-1252; ValueError when neither."""
    for encoding, label in ENCODINGS.items():
        try:
            return csv_bytes.decode(encoding), label
        except UnicodeDecodeError:
            continue
    raise ValueError("the CSV file is neither UTF-8 nor Windows-1252 text")


def decode(csv_bytes: bytes) -> str:
    """The CSV's text (see decode_as)."""
    return decode_as(csv_bytes)[0]


def delimiter(text: str) -> str:
    """The separator the header line uses, one of DELIMITERS; a comma when it has a single column."""
    try:
        return csv.Sniffer().sniff(text.partition("\n")[0], delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


@dataclass
class CsvFile:
    """What the header says: the text, how it was written, and its column names."""

    text: str
    encoding: str
    separator: str
    header: list[str]

    @property
    def description(self) -> str:
        return f"{SEPARATORS.get(self.separator, repr(self.separator))}-separated, {self.encoding}"


def read(csv_bytes: bytes) -> CsvFile:
    """The CSV's text, encoding, separator and header; ValueError saying what is wrong."""
    text, encoding = decode_as(csv_bytes)
    separator = delimiter(text)
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=separator), [])
    except csv.Error as exc:
        raise ValueError(f"the header line cannot be read as CSV ({exc})") from None
    if not any(h.strip() for h in header):
        raise ValueError("the CSV file is empty: its first line should name the columns")
    header = [h for h in header if h.strip()]  # a trailing separator makes a nameless column: nothing to map
    if len(set(header)) < len(header):
        twice = sorted({h for h in header if header.count(h) > 1})
        raise ValueError(f"the header names a column more than once: {', '.join(map(repr, twice))}")
    return CsvFile(text, encoding, separator, header)


# Column names a spreadsheet may use for each field (compared lower-case, without accents, spaces or punctuation):
# the field's own name, its Dublin Core term, and common English, German and French words.
SYNONYMS = {
    "file": ["file", "filename", "image", "scan", "datei", "dateiname", "fichier", "nomdefichier", "bild"],
    "title": ["title", "dctitle", "name", "titel", "titre"],
    "description": ["description", "dcdescription", "caption", "beschreibung", "legende"],
    "date": ["date", "dcdate", "datum", "datierung"],
    "year_from": ["yearfrom", "year", "from", "start", "jahr", "jahrvon", "von", "annee", "anneedebut"],
    "year_to": ["yearto", "year", "to", "end", "jahr", "jahrbis", "bis", "annee", "anneefin"],
    "place": ["place", "dccoverage", "dcspatial", "coverage", "spatial", "location", "ort", "lieu"],
    "people": ["people", "persons", "personen", "personnes", "sitter"],
    "subjects": ["subjects", "subject", "dcsubject", "keywords", "tags", "schlagworte", "schlagwort", "sujet",
                 "sujets", "motcles"],
    "creator": ["creator", "dccreator", "photographer", "author", "fotograf", "urheber", "photographe", "auteur"],
    "source_archive": ["sourcearchive", "dcsource", "source", "archive", "archiv", "fonds", "quelle"],
    "source_identifier": ["sourceidentifier", "dcidentifier", "identifier", "id", "inventorynumber", "signatur",
                          "inventarnummer", "cote", "numero"],
    "rights": ["rights", "dcrights", "licence", "license", "rechte", "droits"],
    "status": ["status", "statut"],
}  # fmt: skip


def _key(name: str) -> str:
    flat = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", flat.lower())


def guess_mapping(header: list[str], targets: list[str]) -> dict[str, str]:
    """A column for each target whose name (or a synonym) a column has; the earlier synonym wins."""
    by_key = {}
    for column in header:
        by_key.setdefault(_key(column), column)
    guess = {}
    for target in targets:
        for word in SYNONYMS.get(target, [_key(target)]):
            if word in by_key:
                guess[target] = by_key[word]
                break
    return guess


@dataclass
class PreviewRow:
    line: int
    file: str  # "" for a record without its file
    fields: dict
    problem: str = ""


def preview(csv_file: CsvFile, mapping: dict[str, str], rows: int = 5) -> list[PreviewRow]:
    """The first `rows` rows as they will be imported: the item fields, the file named, what is wrong."""
    reader = csv.DictReader(io.StringIO(csv_file.text), delimiter=csv_file.separator)
    reader.fieldnames  # noqa: B018  (reads the header, so that the rows' line numbers count it)
    shown: list[PreviewRow] = []
    sink = ImportReport()
    for line, row in _rows(reader, sink):
        name = PurePath((row.get(mapping.get("file", "")) or "").strip()).name if "file" in mapping else ""
        try:
            fields = _checked_fields(row, mapping, name)
            shown.append(PreviewRow(line, name, fields))
        except (ValueError, ValidationError) as exc:
            shown.append(PreviewRow(line, name, {}, _message(exc)))
        if len(shown) + len(sink.errors) >= rows:
            break
    shown += [PreviewRow(line, "", {}, message) for line, message in sink.errors]
    return sorted(shown, key=lambda r: r.line)[:rows]


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return str(exc.messages[0]) if isinstance(exc, ValidationError) else str(exc)


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
    missing_file: Callable[[str], str] = lambda name: f"file {name!r} was not uploaded with the CSV",
) -> ImportReport:
    """Import every valid row (each in its own transaction) and report the others by line number.
    `missing_file(name)`: the error of a row naming a file that is not in `files`."""
    report = ImportReport()
    try:
        text = decode(csv_bytes)
    except ValueError as exc:
        report.errors.append((1, str(exc)))
        return report
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter(text))
    header = reader.fieldnames or []
    # A field left at its default column (its own name) is optional: skipped when the CSV has no such column. Without
    # a file column every row is a record without its file, as on the staff page when no column is chosen for it.
    mapping = {t: c for t, c in mapping.items() if c in header or c != t}
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
            ready.append((line, *_checked_row(row, mapping, by_name, missing_file)))
        except (ValueError, IngestError, ValidationError) as exc:
            report.errors.append((line, _message(exc)))
    for line, upload, fields in ready:
        try:
            if upload is None:
                report.created.append(add_record(user=user, collection=collection, **fields))
            else:
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


def _checked_fields(row: dict, mapping: dict[str, str], name: str) -> dict:
    """The Item fields of one row whose file is `name` ("" for none); ValueError or ValidationError saying why not.
    A row without a title takes its file's name; a row without either is refused."""
    fields = row_fields(row, mapping)
    if not fields.get("title"):
        if not name:
            raise ValueError("this row has neither a title nor a file; give it one or the other")
        fields["title"] = title_from_filename(name)[: Item._meta.get_field("title").max_length]
    if not name and fields.get("status") == Item.Status.PUBLISHED:
        raise ValueError("a row without a file cannot be published; attach the file to the item first")
    probe = Item(original_name=name, **fields)
    probe.full_clean(exclude=["original", "sha256", "collection", "created_by"], validate_unique=False)
    return fields


def _checked_row(
    row: dict, mapping: dict[str, str], by_name: dict[str, File], missing_file: Callable[[str], str]
) -> tuple[File | None, dict]:
    """The upload (None for a record without its file) and Item fields of one row; ValueError, IngestError or
    ValidationError saying what is wrong."""
    name = PurePath((row.get(mapping["file"]) or "").strip()).name if "file" in mapping else ""
    upload = None
    if name:
        upload = by_name.get(name)
        if upload is None:
            raise ValueError(missing_file(name))
    fields = _checked_fields(row, mapping, name)
    if upload is not None:
        check_upload(upload)
    return upload, fields
