"""Sending task messages: the one place that knows the broker may be down.

A web request writes its row first; the message follows once the row commits. When the broker cannot be
reached the row simply stays as it is (a `pending` job, an item without previews) and the sweeper
(`manage.py sweep`, scheduled by Celery beat) sends it again once the broker is back. Nothing is deleted and
nobody sees a 500: `row.queued` tells the caller whether the message went out, so it can say "saved, the work
will start when the queue is back".

Tasks are sent by name ("workers.tasks.colorize"): the portal never imports `workers` (the worker's code, and
the libraries it loads, stay out of the web process). A process that has the task registered (a worker, or a
test running tasks eagerly) runs it as Celery would for `.delay()`; elsewhere the message goes to the broker.
"""

from __future__ import annotations

import logging

from django.db import transaction
from kombu.exceptions import OperationalError

from portal.celery import app

log = logging.getLogger("portal")

QUEUE_DOWN_MESSAGE = "Saved. The work queue cannot be reached right now; the work will start when it is back."


def send(task: str, pk: int) -> bool:
    """Send the task named `task` with `pk` now; False (logged) when the broker cannot be reached."""
    try:
        app.signature(task, args=(pk,)).apply_async()
    except (OperationalError, OSError) as exc:
        log.warning("broker unreachable, %s(%s) left for the sweeper: %s", task, pk, exc)
        return False
    return True


def send_on_commit(row, task: str) -> None:
    """Send the task named `task` with row.pk once the row's transaction commits; sets row.queued to what
    happened.

    A job row (one with `queued_at`) records when its message went out, so the sweeper knows which pending
    jobs never reached the broker.
    """
    row.queued = None  # not yet known: the transaction has not committed

    def after_commit() -> None:
        row.queued = send(task, row.pk)
        if row.queued and hasattr(row, "queued_at"):
            from django.utils import timezone

            type(row).objects.filter(pk=row.pk).update(queued_at=timezone.now())

    transaction.on_commit(after_commit)


def all_queued(rows) -> bool:
    """False when any of these rows' messages could not be sent (None, still waiting for a commit, counts as sent)."""
    return all(getattr(row, "queued", True) is not False for row in rows)
