"""The one job runner every task goes through (NetBox's JobRunner.handle): fetch the row, claim it, run the
body (which calls the library and stores what it made), then finish or fail.

    run_job(ColorizationRequest, pk, body)   # body(row) -> fields for finish(), or None if it ended the job

A duplicate delivery finds nothing to claim and does nothing; a body stopped by Cancelled (a progress
callback found the row no longer running) ends quietly, keeping nothing it stored; any other error marks the row failed in plain words
for museum staff while the traceback goes to the worker log; a result finished after a cancel is discarded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger("workers")
J = TypeVar("J")

# Library errors whose messages are written for people (bad file, missing model, ...).
_PLAIN = (ValueError, OSError, KeyError, LookupError)


def plain_message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, MemoryError):
        return "The worker ran out of memory on this file. Try again later or on a larger worker."
    if isinstance(exc, FileNotFoundError) and not text:
        return "A file this job needs is missing from storage."
    if isinstance(exc, _PLAIN) and text:
        return text[:1000]
    return f"Something unexpected went wrong ({type(exc).__name__}: {text[:300]}). The technical details are in the worker log."


def run_job(
    model: type[J], pk: int, body: Callable[[J], dict[str, Any] | None], *, claim: bool = True
) -> J | None:
    """Run `body` on row `pk` of `model` (claimed first unless `claim` is False: a join claims its phase).
    `body` returns the fields to record with `finish()`, or None when it ended the job itself."""
    from portal.jobs.models import Cancelled, Status

    job = model.claim(pk) if claim else model.objects.filter(pk=pk).first()
    if job is None:
        return None
    try:
        fields = body(job)
    except Cancelled as exc:
        log.info("%s %s stopped: %s", model.__name__, pk, exc)
        # a segment whose request was cancelled or failed stops as cancelled, keeping nothing it stored; a row
        # requeue_stale made pending again meanwhile is left for its next run
        job.refresh_from_db(fields=["status"])
        if job.status == Status.RUNNING:
            job.cancel()
        if job.status == Status.CANCELLED:
            job.discard()
    except Exception as exc:
        log.exception("%s %s failed", model.__name__, pk)
        job.fail(plain_message(exc))
    else:
        if fields is not None and not job.finish(**fields):
            job.discard()  # cancelled while running: keep no unwanted result
    return job
