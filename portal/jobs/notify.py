"""Telling people their work has ended: an in-portal notification, and an email through Django's mail settings
when mail is configured (settings.MAIL_CONFIGURED; the demo uses the console backend)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail

from portal.jobs.models import BulkAction, ColorizationRequest, Notification, Status, TrainingRun

log = logging.getLogger("portal")


def _describe(job) -> str | None:
    if isinstance(job, ColorizationRequest):
        return f"Colorization of “{job.item.title}” with {job.model.name}"
    if isinstance(job, TrainingRun):
        return f"Training run #{job.pk} ({job.name})"
    if isinstance(job, BulkAction):
        return f"Bulk action “{job.get_action_display()}” on {len(job.items)} item(s)"
    return None


def job_ended(job) -> Notification | None:
    """Notify whoever asked for `job` that it is done or failed (called once, by Job.finish / Job.fail)."""
    user = getattr(job, "requested_by", None)
    what = _describe(job)
    if user is None or what is None:
        return None
    failed = job.status == Status.FAILED
    message = f"{what} failed: {job.error}" if failed else f"{what} is done."
    note = Notification.objects.create(
        user=user, message=message[:500], url=job.get_absolute_url(), failed=failed
    )
    if settings.MAIL_CONFIGURED and user.email:
        link = f"{settings.PORTAL_URL.rstrip('/')}{note.url}" if settings.PORTAL_URL else note.url
        try:
            send_mail(f"[Colorarchive] {message[:120]}", f"{message}\n\n{link}\n", None, [user.email])
        except (
            OSError
        ) as exc:  # the in-portal list still has it; a mail server that is down must not fail the job
            log.warning("could not mail %s about %s: %s", user.email, what, exc)
    return note


def unread(request) -> dict:
    """Template context: the signed-in person's unread notifications, for the navigation."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": Notification.objects.filter(user=user, read=False).count()}
