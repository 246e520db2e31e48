from django.conf import settings
from django.core.management.base import BaseCommand

from portal.jobs.services import requeue_stale


class Command(BaseCommand):
    help = "Reset jobs left running by a lost worker (no progress for --minutes) and enqueue them again."

    def add_arguments(self, parser):
        parser.add_argument("--minutes", type=int, default=settings.STALE_MINUTES)

    def handle(self, *args, minutes: int, **options):
        done = requeue_stale(minutes)
        for line in done:
            self.stdout.write(f"requeued {line}")
        self.stdout.write(self.style.SUCCESS(f"{len(done)} stale job(s) requeued"))
