"""API tokens expire (COLORARCHIVE_TOKEN_DAYS); /api/token/ (portal.api.TokenView) is throttled per account
and per address. No view here: DRF imports the authentication class while it loads its views.

The throttles count in the cache; while it cannot be reached they let requests through (logged) rather than
refuse every token: django-axes, which counts failed sign-ins in the database, still locks an account or an
address out after COLORARCHIVE_LOGIN_FAILURES wrong passwords."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle

from portal.gallery.public_cache import CACHE_ERRORS

log = logging.getLogger("portal")


def expires_at(token: Token) -> datetime:
    return token.created + timedelta(days=settings.API_TOKEN_DAYS)


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if expires_at(token) <= timezone.now():
            raise AuthenticationFailed("Token expired; ask /api/token/ for a new one.")
        return user, token


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
