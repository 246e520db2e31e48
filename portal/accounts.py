"""Password reset that is honest about mail: without a mail server configured (settings.MAIL_CONFIGURED) it says
so and sends nothing, instead of claiming an email is on its way. And the question the proxy asks before it reads
an upload's body (may_upload)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from portal.front_door import may_send_data, sender


class PasswordResetView(auth_views.PasswordResetView):
    def dispatch(self, request, *args, **kwargs):
        if not settings.MAIL_CONFIGURED:
            return render(request, "registration/password_reset_unavailable.html")
        return super().dispatch(request, *args, **kwargs)


@never_cache
def may_upload(request: HttpRequest) -> HttpResponse:
    """nginx's auth_request for the upload locations (docker/nginx): 204 when the request it holds may send its
    body (a read, or staff by session or API token), else 401. nginx sends the headers only, as a GET, with the
    request's own method in X-Original-Method."""
    method = request.headers.get("X-Original-Method", "GET").upper()
    if method in ("GET", "HEAD", "OPTIONS") or may_send_data(sender(request, token=True)):
        return HttpResponse(status=204)
    return HttpResponse(status=401)
