"""`python manage.py sweep_uploads` (from cron): removes spooled uploads a killed web process left behind.

Every upload larger than FILE_UPLOAD_MAX_MEMORY_SIZE is spooled to FILE_UPLOAD_TEMP_DIR while its request
runs; Django removes the file when the request ends, unless the process was killed. A file older than the
longest request can take is such a leftover.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand


def sweep(folder: Path, minutes: float) -> list[Path]:
    """Delete the files in `folder` not modified for `minutes`; the deleted paths."""
    cutoff = time.time() - minutes * 60
    removed = []
    for path in folder.iterdir() if folder.is_dir() else []:
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # its request finished meanwhile
            continue
    return removed


class Command(BaseCommand):
    help = "Remove spooled uploads left in FILE_UPLOAD_TEMP_DIR by killed web processes."

    def add_arguments(self, parser):
        parser.add_argument("--minutes", type=float, default=120,
                            help="Older than this is a leftover (default 120: longer than any request).")  # fmt: skip

    def handle(self, *args, minutes: float, **options):
        removed = sweep(Path(settings.FILE_UPLOAD_TEMP_DIR), minutes)
        self.stdout.write(f"Removed {len(removed)} leftover upload(s) from {settings.FILE_UPLOAD_TEMP_DIR}.")
