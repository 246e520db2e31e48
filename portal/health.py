"""GET /health/: whether this web process can do its work, for a load balancer or a monitor.

JSON, 200 when every part is up and 503 when any is down: the database, the broker, the cache, and free space on
the media store and the upload spool (at least settings.MIN_FREE_BYTES each). It names no address, path or error
text, only each part's state and, when down, the error's type. Nothing is cached and no sign-in is asked for.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from portal.storage import media_folder

BROKER_TIMEOUT_S = 3


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> None:
    from portal.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_S)


def _cache() -> None:
    key = f"health-{uuid.uuid4().hex}"
    cache.set(key, "1", 10)
    if cache.get(key) != "1":
        raise LookupError("the cache did not keep a value")
    cache.delete(key)


def _probe(check: Callable[[], None]) -> dict:
    try:
        check()
    except Exception as exc:  # any failure is "down"; the type says which kind without exposing the details
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


def _disk(folder: Path | None) -> dict:
    if folder is None:
        return {"ok": True, "remote": True}  # S3: not a local disk
    try:
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": free >= settings.MIN_FREE_BYTES, "free_mb": free // 2**20}


@never_cache
@require_safe
def health(request) -> JsonResponse:
    checks = {
        "database": _probe(_database),
        "broker": _probe(_broker),
        "cache": _probe(_cache),
        "media_disk": _disk(media_folder()),
        "spool_disk": _disk(Path(settings.FILE_UPLOAD_TEMP_DIR)),
    }
    up = all(part["ok"] for part in checks.values())
    return JsonResponse({"status": "ok" if up else "down", "checks": checks}, status=200 if up else 503)
