"""`manage.py import_catalog items.csv [--files scans/] [--map title=Titel ...] [--collection slug]`.

As on the staff page, a row that names no file (or a CSV without a file column) makes a draft record: its file is
attached later on the item's page."""

from __future__ import annotations

from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from portal.catalog.forms import IMPORT_TARGETS
from portal.catalog.importer import import_csv, read
from portal.catalog.models import Collection


class Command(BaseCommand):
    help = (
        "Bulk-import a CSV (one row per item) with the files it names; a row naming no file becomes a record "
        "without its file. Reports every row it could not import."
    )

    def add_arguments(self, parser):
        parser.add_argument("csv", type=Path)
        parser.add_argument(
            "--files",
            type=Path,
            help="Folder holding the files the CSV's file column names (not needed for records without files).",
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=COLUMN",
            help=f"Column for a field (default: the field's own name). Fields: {', '.join(IMPORT_TARGETS)}",
        )
        parser.add_argument("--collection", help="Slug of the collection the items join.")

    def handle(self, *args, csv: Path, files: Path | None, map: list[str], collection: str | None, **options):
        if not csv.is_file():
            raise CommandError(f"{csv}: no such CSV file")
        if files is not None and not files.is_dir():
            raise CommandError(f"{files}: no such folder")
        mapping = {t: t for t in IMPORT_TARGETS}
        for item in map:
            field, sep, column = item.partition("=")
            if not sep or field not in IMPORT_TARGETS:
                raise CommandError(
                    f"--map {item!r}: expected FIELD=COLUMN with FIELD one of {', '.join(IMPORT_TARGETS)}"
                )
            mapping[field] = column
        coll = None
        if collection:
            coll = Collection.objects.filter(slug=collection).first()
            if coll is None:
                raise CommandError(f"no collection with slug {collection!r}")
        csv_bytes = csv.read_bytes()
        if files is not None and mapping["file"] == "file" and not _has_column(csv_bytes, "file"):
            raise CommandError(
                f"--files {files}: the CSV has no 'file' column naming the files; name it with --map file=COLUMN"
            )

        def missing(name: str) -> str:
            if files is None:
                return f"file {name!r} is named but no folder of files was given (--files)"
            return f"file {name!r} is not in {files}"

        paths = files.iterdir() if files is not None else []
        handles = {p.name: open(p, "rb") for p in paths if p.is_file()}  # noqa: SIM115
        try:
            uploads = {name: File(f, name=name) for name, f in handles.items()}
            report = import_csv(csv_bytes, uploads, mapping, collection=coll, missing_file=missing)
        finally:
            for f in handles.values():
                f.close()
        for line, message in report.errors:
            self.stderr.write(f"{csv.name}:{line}: {message}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(report.created)} item(s) imported, {len(report.errors)} row(s) with errors"
            )
        )
        if report.errors and not report.created:
            raise CommandError("nothing was imported")


def _has_column(csv_bytes: bytes, column: str) -> bool:
    try:
        return column in read(csv_bytes).header
    except ValueError:  # an unreadable CSV: import_csv reports why
        return True
