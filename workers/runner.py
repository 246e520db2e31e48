"""The one job runner every task goes through (NetBox's JobRunner.handle): fetch the row, claim it, run the
body (which calls the library), then finish or fail.

    run_job(ColorizationRequest, pk, body)   # body(row) -> fields for finish(), or None if it ended the job

A body that made files ends the job itself, inside its scratch folder: `row.finish(files={field: path}, ...)`
stores them with the row (portal.storage.store_then_save), so a row that does not commit (cancelled meanwhile,
or an error) keeps no file.

While the body runs, a thread writes the row's heartbeat (settings.HEARTBEAT_SECONDS), so a worker killed
mid-job is noticed within about a minute (Job.stale) and its job requeued by the sweeper.
A duplicate delivery finds nothing to claim and does nothing; a body stopped by Cancelled (a progress
callback found the row no longer running) ends quietly; any other error marks the row failed in plain words
for museum staff while the traceback goes to the worker log; a result finished after a cancel is not recorded.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, connections, transaction

from portal.database import LOST, retrying, wait_for_database
from portal.storage import is_disk_full

log = logging.getLogger("workers")
J = TypeVar("J")

# Library errors whose messages are written for people (bad file, missing model, ...).
_PLAIN = (ValueError, OSError, KeyError, LookupError)


# The folders of an absolute path (/var/lib/.../items/reel.mp4 -> reel.mp4): where the archive keeps its files
# is no business of the staff reading the message; the worker log keeps the full text.
_FOLDERS = re.compile(r"(?<![\w:/.~])/(?:[^\s/'\"]+/)+")


def plain_message(exc: BaseException) -> str:
    """What staff see of `exc`: its first line, without server folders and without a traceback."""
    text = _FOLDERS.sub("", str(exc).strip().splitlines()[0]) if str(exc).strip() else ""
    if isinstance(exc, MemoryError):
        return "The worker ran out of memory on this file. Try again later or on a larger worker."
    if is_disk_full(exc):
        return (
            f"The archive's storage is full ({text or 'no space left'}); nothing half-written was kept. "
            "Retry once space has been freed."
        )
    if isinstance(exc, FileNotFoundError) and not text:
        return "A file this job needs is missing from storage."
    if isinstance(exc, _PLAIN) and text:
        return text[:1000]
    return f"Something unexpected went wrong ({type(exc).__name__}: {text[:300]}). The technical details are in the worker log."


def run_job(
    model: type[J], pk: int, body: Callable[[J], dict[str, Any] | None], *, claim: bool = True
) -> J | None:
    """Run `body` on row `pk` of `model` (claimed first unless `claim` is False: a join claims its phase).
    `body` returns the fields to record with `finish()`, or None when it ended the job itself.

    A lost database connection (a restart, a failover) does not lose the job: the worker waits for the database
    (portal.database), then claims again, or requeues the job it was running with the reason on it."""
    from portal.jobs.models import Cancelled

    job = retrying(lambda: model.claim(pk) if claim else model.objects.filter(pk=pk).first())
    if job is None:
        return None
    try:
        with heartbeat(model, job):
            fields = body(job)
    except Cancelled as exc:
        log.info("%s %s stopped: %s", model.__name__, pk, exc)
        retrying(lambda: _stopped(job))
    except LOST as exc:
        _requeue_after_database_loss(model, job, exc)
    except Exception as exc:
        log.exception("%s %s failed", model.__name__, pk)
        message = plain_message(exc)
        retrying(lambda: job.fail(message))
    else:
        if fields is None:
            # the body ended its part (finished with its files, a film planned, a join handed on): no worker
            # holds the row now
            retrying(lambda: model.beat(pk, job.attempts, alive=False))
            return job
        try:
            job.finish(**fields)
        except LOST as exc:
            log.warning(
                "%s %s: the database connection was lost while recording the result: %s",
                model.__name__,
                pk,
                exc,
            )
            wait_for_database()
            job.finish(**fields)  # a no-op when the first try committed just before the connection went
    return job


@contextmanager
def heartbeat(model: type, job) -> Iterator[None]:
    """Write the running row's heartbeat every settings.HEARTBEAT_SECONDS from a thread while the block runs: a
    slow step between progress writes still shows a live worker, and a killed one falls silent at once.

    Not inside a transaction (eager tests run in one): the thread's own connection would wait for its row lock."""
    if connection.in_atomic_block:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.HEARTBEAT_SECONDS):
                try:
                    model.beat(job.pk, job.attempts)
                except Exception as exc:  # the database away: the worker's own writes wait for it
                    log.warning("%s %s: heartbeat not written: %s", model.__name__, job.pk, exc)
        finally:
            connections.close_all()  # this thread's connection

    thread = threading.Thread(target=beat, name=f"heartbeat-{model.__name__}-{job.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _stopped(job) -> None:
    """A segment whose request was cancelled or failed stops as cancelled; a row requeue_stale made pending
    again meanwhile, or another worker runs now (a later attempt), is left to it."""
    from portal.jobs.models import Status

    if _state(job) == (Status.RUNNING, job.attempts):
        job.cancel()


def _state(job) -> tuple[str, int] | None:
    return type(job).objects.filter(pk=job.pk).values_list("status", "attempts").first()


def _requeue_after_database_loss(model: type, job, exc: BaseException) -> None:
    """Once the database is back, put the job this worker was running back on the queue, saying why (after
    settings.MAX_ATTEMPTS it fails instead). When the database stays away longer than
    settings.DB_WAIT_SECONDS the error is raised: the row stays running, and the sweeper requeues it later."""
    from portal.jobs.models import DATABASE_LOST, Status

    log.warning("%s %s: the database connection was lost; requeueing it once the database is back: %s",
                model.__name__, job.pk, str(exc).strip().splitlines()[0] if str(exc).strip() else "")  # fmt: skip
    wait_for_database()
    with transaction.atomic():
        row = (
            model.objects.select_for_update()
            .filter(pk=job.pk, status=Status.RUNNING, attempts=job.attempts)
            .first()
        )
        done = row.requeue(DATABASE_LOST) if row is not None else None
    if done:
        log.info("%s %s: %s", model.__name__, job.pk, done)
