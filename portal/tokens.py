"""API tokens expire (COLORARCHIVE_TOKEN_DAYS); /api/token/ (portal.api.TokenView) is throttled per account
and per address. No view here: DRF imports the authentication class while it loads its views."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle


def expires_at(token: Token) -> datetime:
    return token.created + timedelta(days=settings.API_TOKEN_DAYS)


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if expires_at(token) <= timezone.now():
            raise AuthenticationFailed("Token expired; ask /api/token/ for a new one.")
        return user, token


class TokenAddressThrottle(AnonRateThrottle):
    """Token requests per client address."""

    scope = "token-address"


class TokenAccountThrottle(SimpleRateThrottle):
    """Token requests per account name, from any address (the form's username; small body, see front_door)."""

    scope = "token-account"

    def get_cache_key(self, request, view):
        username = str(request.data.get("username", "")).strip().lower() if request.method == "POST" else ""
        return self.cache_format % {"scope": self.scope, "ident": username} if username else None
