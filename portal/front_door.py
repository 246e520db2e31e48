"""Requests refused before their body is read: too large (413), a POST from someone who may not post, or one
the upload spool has no room for (507).

Django reads a body only when a view (or the CSRF check) asks for it, so these checks run in a middleware
placed after authentication: from the headers alone (Content-Length, session cookie, API token) they decide.
Sign-in and token endpoints are open to everyone, with a small body limit.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve

from portal.catalog.permissions import is_staff_member
from portal.middleware import outage_response
from portal.storage import InsufficientStorage, require_free

BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# URL names anyone may post to (signing in and out, the API token, OAI-PMH's harvesters, whom the protocol lets
# send their arguments as a form); their bodies are small forms.
OPEN_URL_NAMES = {"login", "logout", "password_reset", "password_reset_confirm", "api-token",
                  "admin:login", "admin:logout", "gallery:oai"}  # fmt: skip
OPEN_BODY_BYTES = 64 * 1024


def content_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: behind the proxy (production), the address it appended to X-Forwarded-For."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.BEHIND_PROXY and forwarded:
        return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR")


def _api_user(request: HttpRequest):
    """The API token's user, from the Authorization header only (None when absent or not valid)."""
    from rest_framework.exceptions import AuthenticationFailed

    from portal.tokens import token_user

    try:
        return token_user(request)
    except AuthenticationFailed:
        return None


def sender(request: HttpRequest, token: bool):
    """Who sends the request: the session's user, else (with `token`) the API token's, else the anonymous user."""
    if request.user.is_authenticated or not token:
        return request.user
    return _api_user(request) or request.user


def may_send_data(user) -> bool:
    """Museum staff (and administrators) may post; uploads, within MAX_UPLOAD_BYTES."""
    return is_staff_member(user) or user.is_staff


def _too_large(request: HttpRequest, size: int, limit: int) -> HttpResponse:
    message = (
        f"The request is {size / 1e6:.1f} MB; at most {limit / 1e6:.1f} MB may be sent here at once. "
        "Nothing was stored."
    )
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=413)
    return render(request, "413.html", {"message": message}, status=413)


class FrontDoorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in BODY_METHODS:
            refused = self.refuse(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def refuse(self, request: HttpRequest) -> HttpResponse | None:
        size = content_length(request)
        try:
            match = resolve(request.path_info)
            name = f"{match.namespace}:{match.url_name}" if match.namespace else match.url_name
        except Resolver404:
            name = None
        if name in OPEN_URL_NAMES:
            return _too_large(request, size, OPEN_BODY_BYTES) if size > OPEN_BODY_BYTES else None
        user = sender(request, token=request.path.startswith("/api/"))
        if not may_send_data(user):
            if request.path.startswith("/api/"):
                status = 403 if user.is_authenticated else 401
                response = JsonResponse({"detail": "Only museum staff may send data here."}, status=status)
                if status == 401:
                    response["WWW-Authenticate"] = "Token"
                return response
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            return render(request, "403.html", status=403)
        if size > settings.MAX_UPLOAD_BYTES:
            return _too_large(request, size, settings.MAX_UPLOAD_BYTES)
        if size > settings.FILE_UPLOAD_MAX_MEMORY_SIZE:  # the body will be spooled to disk
            try:
                require_free(settings.FILE_UPLOAD_TEMP_DIR, size, "upload spool")
            except InsufficientStorage as exc:
                return outage_response(request, exc)  # 507 before a byte is written
        return None
