"""Failures in plain words for museum staff; the traceback goes to the worker log."""

from __future__ import annotations

import logging
from contextlib import contextmanager

log = logging.getLogger("workers")

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


@contextmanager
def failing_job(job):
    """Run a job's body; on any error mark the row failed with a plain message (and log the traceback).
    A job whose row stopped running (Cancelled from a progress callback) ends quietly as cancelled."""
    from portal.jobs.models import Cancelled, Status

    try:
        yield
    except Cancelled as exc:
        log.info("%s %s stopped: %s", type(job).__name__, job.pk, exc)
        # a segment whose request was cancelled or failed stops as cancelled; a row requeue_stale made pending
        # again meanwhile is left for its next run
        job.refresh_from_db(fields=["status"])
        if job.status == Status.RUNNING:
            job.cancel()
    except Exception as exc:
        log.exception("%s %s failed", type(job).__name__, job.pk)
        job.fail(plain_message(exc))
