"""Sending a stored file once its view has checked who may see it.

Behind the proxy (COLORARCHIVE_MEDIA_ACCEL=1, docker/nginx) the app answers with X-Accel-Redirect only and
the proxy sends the bytes (HTTP Range, no Python worker held by a slow download): a local file from the
media volume (/_media/), an S3 object through a presigned URL the proxy fetches (/_s3/ with X-S3-URL).
Without the proxy (runserver, tests) the app sends the file itself and answers single-range requests (206).
"""

from __future__ import annotations

import mimetypes
import re
from urllib.parse import quote

from django.conf import settings
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

PUBLIC_MAX_AGE = 24 * 3600  # published files; a file's name changes when its content does (sha256 or new pk)
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


def send_file(
    request: HttpRequest, field: FieldFile, filename: str, *, download: bool, public: bool
) -> HttpResponse:
    """The response for `field` (shown as `filename`); public files may be cached by browsers and proxies."""
    if not field:
        raise Http404("This file is not ready yet.")
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    if settings.MEDIA_ACCEL:
        response = _accel(field, content_type)
    else:
        response = _direct(request, field, content_type)
    response["Content-Disposition"] = content_disposition_header(download, filename)
    response["Cache-Control"] = f"public, max-age={PUBLIC_MAX_AGE}" if public else "private, no-cache"
    return response


def _accel(field: FieldFile, content_type: str) -> HttpResponse:
    response = HttpResponse(content_type=content_type)
    if hasattr(field.storage, "path"):  # the local media folder, mounted read-only into the proxy
        response["X-Accel-Redirect"] = "/_media/" + quote(field.name)
    else:  # S3: the proxy fetches a short-lived presigned URL (ranges pass through)
        response["X-Accel-Redirect"] = "/_s3/"
        response["X-S3-URL"] = field.storage.url(field.name)
    return response


def _direct(request: HttpRequest, field: FieldFile, content_type: str) -> HttpResponse:
    try:
        handle = field.open("rb")
        size = field.size
    except (FileNotFoundError, OSError):
        raise Http404("This file is missing from storage.") from None
    wanted = _range(request.headers.get("Range", ""), size)
    if wanted is None:
        response = FileResponse(handle, content_type=content_type)
    elif wanted == "unsatisfiable":
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
    else:
        start, end = wanted
        handle.seek(start)
        response = StreamingHttpResponse(
            _read(handle, end - start + 1), status=206, content_type=content_type
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    return response


def _range(header: str, size: int):
    """(start, end) inclusive for one "bytes=" range, "unsatisfiable", or None for the whole file."""
    match = RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None  # absent, several ranges or another unit: the whole file (allowed by RFC 9110)
    first, last = match.groups()
    if first == "":  # the last N bytes
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return "unsatisfiable"
    return start, end


def _read(handle, remaining: int):
    try:
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()
