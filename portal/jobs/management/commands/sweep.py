from django.core.management.base import BaseCommand

from portal.jobs.services import sweep


class Command(BaseCommand):
    help = (
        "Recovery after a broker or worker outage: requeue jobs whose worker was lost, send every pending job "
        "whose message never reached the broker, and every missing preview; remove the half-written files of "
        "processes killed while storing and set aside stored files no row refers to (settings.INCOMING_MINUTES "
        "old). Celery beat runs it every 30 seconds, and the leftovers pass hourly."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--minutes",
            type=int,
            default=None,
            help="how long a row must have waited (0: all of them; default: the settings' thresholds)",
        )

    def handle(self, *args, minutes: int | None, **options):
        done = sweep(minutes)
        for line in done:
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"{len(done)} action(s)"))
