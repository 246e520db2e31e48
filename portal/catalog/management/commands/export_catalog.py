from pathlib import Path

from django.core.management.base import BaseCommand

from portal.catalog.export import export


class Command(BaseCommand):
    help = (
        "Write the catalogue's metadata (items and their colorization results) as CSV and JSON into a folder; "
        "CSV cells starting with = + - @ are written as text, never as formulas."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)

    def handle(self, *args, folder: Path, **options):
        for path in export(folder):
            self.stdout.write(str(path))
