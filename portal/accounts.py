"""Password reset that is honest about mail: without a mail server configured (settings.MAIL_CONFIGURED) it says
so and sends nothing, instead of claiming an email is on its way."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import render


class PasswordResetView(auth_views.PasswordResetView):
    def dispatch(self, request, *args, **kwargs):
        if not settings.MAIL_CONFIGURED:
            return render(request, "registration/password_reset_unavailable.html")
        return super().dispatch(request, *args, **kwargs)
