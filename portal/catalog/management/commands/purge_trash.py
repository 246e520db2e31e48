from django.core.management.base import BaseCommand

from portal.catalog.trash import purge


class Command(BaseCommand):
    help = (
        "Remove the files of items and results in the trash longer than --days (default "
        "COLORARCHIVE_TRASH_DAYS, 30); each trash entry stays as the record of who deleted what."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None)

    def handle(self, *args, days: int | None, **options):
        purged = purge(days)
        for entry in purged:
            self.stdout.write(f"purged {entry}")
        self.stdout.write(
            self.style.SUCCESS(f"{len(purged)} trash entr{'y' if len(purged) == 1 else 'ies'} purged")
        )
