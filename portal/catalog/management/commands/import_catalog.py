"""`manage.py import_catalog items.csv --files scans/ [--map title=Titel ...] [--collection slug]`."""

from __future__ import annotations

from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from portal.catalog.forms import IMPORT_TARGETS
from portal.catalog.importer import import_csv
from portal.catalog.models import Collection


class Command(BaseCommand):
    help = (
        "Bulk-import a CSV (one row per file) with the files it names; reports every row it could not import."
    )

    def add_arguments(self, parser):
        parser.add_argument("csv", type=Path)
        parser.add_argument(
            "--files", type=Path, required=True, help="Folder holding the files the CSV names."
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=COLUMN",
            help=f"Column for a field (default: the field's own name). Fields: {', '.join(IMPORT_TARGETS)}",
        )
        parser.add_argument("--collection", help="Slug of the collection the items join.")

    def handle(self, *args, csv: Path, files: Path, map: list[str], collection: str | None, **options):
        if not csv.is_file():
            raise CommandError(f"{csv}: no such CSV file")
        if not files.is_dir():
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
        handles = {p.name: open(p, "rb") for p in files.iterdir() if p.is_file()}  # noqa: SIM115
        try:
            uploads = {name: File(f, name=name) for name, f in handles.items()}
            report = import_csv(csv.read_bytes(), uploads, mapping, collection=coll)
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
