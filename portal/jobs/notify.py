"""Telling people their work has ended (done, failed or cancelled): an in-portal notification, and an email
through Django's mail settings when mail is configured (settings.MAIL_CONFIGURED; the demo uses the console
backend)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import send_mail

from portal.jobs.models import BulkAction, ColorizationRequest, Notification, Status

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

log = logging.getLogger("portal")


def job_ended(job, by: AbstractBaseUser | None = None) -> Notification | None:
    """Notify whoever asked for `job` that it is done, failed or was cancelled (called once, by Job.finish,
    Job.fail or Job.cancel; `by`: who cancelled it). Someone who cancelled their own job finds it in the list
    and gets no mail about their own click. A bulk action is told once, in one summary, when it and every
    request it queued have ended: not once per item."""
    if isinstance(job, ColorizationRequest) and job.bulk_id:
        return _bulk_ended(job.bulk_id)
    if isinstance(job, BulkAction) and job.status != Status.CANCELLED:
        return _bulk_ended(job.pk)
    user = getattr(job, "requested_by", None)
    what = job.notice_subject
    if user is None or what is None:
        return None
    failed = job.status == Status.FAILED
    if failed:
        message = f"{what} failed: {job.error}"
    elif job.status == Status.CANCELLED:
        who = f" by {by.get_full_name() or by.get_username()}" if by is not None and by != user else ""
        message = f"{what} was cancelled{who}."
    else:
        message = f"{what} is done."
    own_click = job.status == Status.CANCELLED and by == user
    return _send(user, message, job.get_absolute_url(), failed, mail=not own_click)


def _bulk_ended(pk: int) -> Notification | None:
    """The bulk action's one summary, once it and the requests it queued have all ended (whichever ends last
    sends it; the row lock makes two that end together send one)."""
    from django.db import transaction

    from portal.jobs.models import ACTIVE

    with transaction.atomic():
        bulk = BulkAction.objects.select_for_update().filter(pk=pk).first()
        if bulk is None or bulk.requested_by is None or bulk.status in ACTIVE:
            return None
        if bulk.requests.filter(status__in=ACTIVE).exists():
            return None  # the last request to end sends it
        url = bulk.get_absolute_url()
        if Notification.objects.filter(user=bulk.requested_by, url=url).exists():
            return None  # sent already (or the action was cancelled, which said so)
        what = bulk.notice_subject
        if bulk.status == Status.FAILED:
            return _send(bulk.requested_by, f"{what} failed: {bulk.error}", url, failed=True)
        ended = {s: 0 for s in Status.values}
        for status in bulk.requests.values_list("status", flat=True):
            ended[status] += 1
        parts = [f"{ended[s]} {word}" for s, word in
                 ((Status.DONE, "colorized"), (Status.FAILED, "failed"), (Status.CANCELLED, "cancelled")) if ended[s]]  # fmt: skip
        message = f"{what} is done" + (f": {', '.join(parts)}." if parts else ".")
        return _send(bulk.requested_by, message, url, failed=bool(ended[Status.FAILED]))


def _send(user, message: str, url: str, failed: bool, mail: bool = True) -> Notification:
    note = Notification.objects.create(user=user, message=message[:500], url=url, failed=failed)
    if mail and settings.MAIL_CONFIGURED and user.email:
        link = f"{settings.PORTAL_URL.rstrip('/')}{note.url}" if settings.PORTAL_URL else note.url
        try:
            send_mail(f"[Colorarchive] {message[:120]}", f"{message}\n\n{link}\n", None, [user.email])
        except (
            OSError
        ) as exc:  # the in-portal list still has it; a mail server that is down must not fail the job
            log.warning("could not mail %s: %s", user.email, exc)
    return note


def unread(request) -> dict:
    """Template context: the signed-in person's unread notifications, for the navigation."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": Notification.objects.filter(user=user, read=False).count()}
