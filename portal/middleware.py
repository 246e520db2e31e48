"""An outage of the database or the broker answers 503 with a plain explanation, never a 500.

The page is written without a template or the database (both may be what is down). A request that failed
this way changed nothing: its transaction rolled back, and ingest removes a file whose row did not commit.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import HttpResponse, JsonResponse
from kombu.exceptions import OperationalError as BrokerOperationalError

log = logging.getLogger("portal")

RETRY_AFTER_S = 60
OUTAGE_MESSAGE = (
    "The archive cannot reach its {what} right now, so nothing was changed. Please try again in a minute."
)


class OutageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DatabaseOperationalError | DatabaseInterfaceError):
            what = "database"
        elif isinstance(exception, BrokerOperationalError):
            what = "work queue"
        else:
            return None
        log.error("%s %s: %s unreachable: %s", request.method, request.path, what, exception)
        message = OUTAGE_MESSAGE.format(what=what)
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": message}, status=503)
        else:
            page = f"<!doctype html><title>Temporarily unavailable</title><h1>Temporarily unavailable</h1><p>{message}</p>"
            response = HttpResponse(page, status=503)
        response["Retry-After"] = str(RETRY_AFTER_S)
        return response
