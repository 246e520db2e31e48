"""An outage of the database, the broker or the cache answers 503 with a plain explanation, never a 500; a full
disk (the media store, the upload spool) answers 507 Insufficient Storage the same way (portal/storage.py).

(The public pages and the token throttles work on without the cache; this is the answer for any other use.)

Errors raised in a view reach OutageMiddleware.process_exception; those raised in another middleware (the
front door reads request.user, which needs the database) reach `server_error`, the project's handler500. The
page is written without a template or the database (both may be what is down). A request that failed this way
changed nothing: its transaction rolled back, and ingest removes a file whose row did not commit.
"""

from __future__ import annotations

import logging
import sys

from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import HttpResponse, JsonResponse
from django.views import defaults
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import RedisError

from portal.storage import InsufficientStorage, is_disk_full

log = logging.getLogger("portal")

RETRY_AFTER_S = 60
OUTAGE_MESSAGE = (
    "The archive cannot reach its {what} right now, so nothing was changed. Please try again in a minute."
)
DISK_FULL_MESSAGE = (
    "The archive's storage is full, so this was not saved and nothing half-written was kept. {detail}"
    "Please ask an administrator to free space, then try again."
)


def outage_response(request, exception: BaseException | None):
    """A 503 for an unreachable database, broker or cache, a 507 for a full disk; None for any other error."""
    if is_disk_full(exception):
        log.error("%s %s: disk full: %s", request.method, request.path, exception)
        return _answer(request, disk_full_message(exception), 507, "Insufficient storage")
    if isinstance(exception, DatabaseOperationalError | DatabaseInterfaceError):
        what = "database"
    elif isinstance(exception, BrokerOperationalError):
        what = "work queue"
    elif isinstance(exception, RedisError):
        what = "cache"
    else:
        return None
    log.error("%s %s: %s unreachable: %s", request.method, request.path, what, exception)
    return _answer(request, OUTAGE_MESSAGE.format(what=what), 503, "Temporarily unavailable")


def disk_full_message(exception: OSError) -> str:
    """What staff are told about a full disk (the free-space check's figures, never a path)."""
    detail = f"{exception} " if isinstance(exception, InsufficientStorage) else ""
    return DISK_FULL_MESSAGE.format(detail=detail)


def _answer(request, message: str, status: int, title: str) -> HttpResponse:
    """JSON for the API, else a plain page written without a template or the database."""
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=status)
    else:
        page = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{message}</p>"
        response = HttpResponse(page, status=status)
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


class OutageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return outage_response(request, exception)


def server_error(request, *args, **kwargs):
    """handler500: Django calls it while handling the exception, so sys.exc_info() names it."""
    return outage_response(request, sys.exc_info()[1]) or defaults.server_error(request, *args, **kwargs)
