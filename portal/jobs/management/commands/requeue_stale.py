from django.core.management.base import BaseCommand

from portal.jobs.services import requeue_stale


class Command(BaseCommand):
    help = (
        "Reset jobs left running by a lost worker (no progress for --minutes; 0 means every running job) and "
        "enqueue them again; a job that lost its worker COLORARCHIVE_MAX_ATTEMPTS times fails with the reason."
    )

    def add_arguments(self, parser):
        parser.add_argument("--minutes", type=int, default=None, help="default: COLORARCHIVE_STALE_MINUTES")

    def handle(self, *args, minutes: int | None, **options):
        done = requeue_stale(minutes)
        for line in done:
            self.stdout.write(f"requeued {line}")
        self.stdout.write(self.style.SUCCESS(f"{len(done)} stale job(s) handled"))
