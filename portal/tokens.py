"""API tokens expire (COLORARCHIVE_TOKEN_DAYS); /api/token/ (portal.api.TokenView) is throttled per account
and per address. No view here: DRF imports the authentication class while it loads its views.

A token is shown once, when it is issued: the database (and so every backup) holds only its SHA-256, in DRF's
Token.key (40 characters: the digest's first 160 bits; a token has 256 random bits). A password change revokes
the account's token (`revoke_on_password_change`, connected in portal.catalog.apps).

The file addresses the API lists (gallery:item_file, gallery:result_file) are plain Django views:
`accepts_api_token` lets the same token open them, with the permission rules of a session.

Every API call is throttled too (ApiVisitorThrottle, ApiAccountThrottle; 429 with Retry-After).

The throttles count in the cache; while it cannot be reached they let requests through (logged) rather than
refuse every token: django-axes, which counts failed sign-ins in the database, still locks an account out at an
address after COLORARCHIVE_LOGIN_FAILURES wrong passwords from there (`locked_for` says for how long)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from portal.gallery.public_cache import CACHE_ERRORS

log = logging.getLogger("portal")


def expires_at(token: Token) -> datetime:
    return token.created + timedelta(days=settings.API_TOKEN_DAYS)


def digest(raw: str) -> str:
    """What is stored of a token (the migration catalog 0009 hashed the tokens issued before, the same way)."""
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def issue(user) -> tuple[str, Token]:
    """A new token for `user` (replacing any earlier one): the token itself, to show once, and its row."""
    raw = secrets.token_urlsafe(32)
    Token.objects.filter(user=user).delete()
    return raw, Token.objects.create(user=user, key=digest(raw))


def locked_for(request: HttpRequest, username: str) -> timedelta | None:
    """How much longer django-axes keeps `username` locked out at the request's address; None if it is not."""
    from axes.handlers.proxy import AxesProxyHandler
    from axes.helpers import get_cool_off
    from axes.models import AccessAttempt

    from portal.front_door import client_ip

    if not username or not AxesProxyHandler.is_locked(request, {"username": username}):
        return None
    cool_off = get_cool_off(request)
    attempts = AccessAttempt.objects.filter(username=username, ip_address=client_ip(request))
    last = attempts.order_by("-attempt_time").values_list("attempt_time", flat=True).first()
    return max(cool_off - (timezone.now() - last), timedelta(seconds=1)) if last else cool_off


def revoke_on_password_change(sender, instance, **kwargs) -> None:
    """post_save of the user model: set_password() was called (Django keeps the new raw password in _password
    until the save ends; a hash upgraded at sign-in does not set it), so the account's token stops working."""
    if getattr(instance, "_password", None) is not None:
        Token.objects.filter(user=instance).delete()


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(digest(key))
        if expires_at(token) <= timezone.now():
            raise AuthenticationFailed("Token expired; ask /api/token/ for a new one.")
        return user, token


def token_user(request: HttpRequest):
    """The user of the API token in the Authorization header; None without a token header.
    Raises AuthenticationFailed for an unknown, expired or malformed token."""
    found = ExpiringTokenAuthentication().authenticate(request)
    return found[0] if found else None


def accepts_api_token(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A view that an API token opens as a session would: with a token header, request.user is the token's
    user (the view's own checks then decide, as for a signed-in user); a bad or expired token answers 401,
    as the API does, rather than falling back to the anonymous view."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            user = token_user(request)
        except AuthenticationFailed as exc:
            response = HttpResponse(str(exc.detail), status=401, content_type="text/plain; charset=utf-8")
            response["WWW-Authenticate"] = "Token"
            return response
        if user is not None:
            request.user = user
        return view(request, *args, **kwargs)

    return wrapped


class _OpenWhileCacheDown:
    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS as exc:
            log.warning("cache unreachable, %s not counted: %s", type(self).__name__, exc)
            return True


class TokenAddressThrottle(_OpenWhileCacheDown, AnonRateThrottle):
    """Token requests per client address."""

    scope = "token-address"


class TokenAccountThrottle(_OpenWhileCacheDown, SimpleRateThrottle):
    """Token requests per account name, from any address (the form's username; small body, see front_door)."""

    scope = "token-account"

    def get_cache_key(self, request, view):
        username = str(request.data.get("username", "")).strip().lower() if request.method == "POST" else ""
        return self.cache_format % {"scope": self.scope, "ident": username} if username else None


class ApiVisitorThrottle(_OpenWhileCacheDown, AnonRateThrottle):
    """API calls without a token or session, per client address."""

    scope = "api-visitor"


class ApiAccountThrottle(_OpenWhileCacheDown, UserRateThrottle):
    """API calls of a signed-in account (token or session), from any address."""

    scope = "api-account"

    def get_cache_key(self, request, view):
        return super().get_cache_key(request, view) if request.user.is_authenticated else None
