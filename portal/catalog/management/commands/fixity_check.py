from django.core.management.base import BaseCommand, CommandError

from portal.catalog.fixity import check_all


class Command(BaseCommand):
    help = (
        "Read every original back from storage and compare its SHA-256 and size with those recorded at upload; "
        "a mismatch marks the item (colorization stops, admins see it) and the command exits with status 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("--item", type=int, action="append", help="check only these item ids")

    def handle(self, *args, item: list[int] | None, **options):
        checked, failures = check_all(item)
        for row, problem in failures:
            self.stderr.write(f"item {row.pk} ({row.original_name}): {problem}")
        self.stdout.write(f"{checked} original(s) checked, {len(failures)} failed")
        if failures:
            raise CommandError(f"{len(failures)} original(s) failed the fixity check")
