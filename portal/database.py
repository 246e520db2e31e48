"""The database may go away while a worker runs (a restart, a failover): wait for it instead of losing the job.

A lost connection surfaces as OperationalError or InterfaceError. `wait_for_database` drops the broken connection
and reconnects, polling until the server answers or settings.DB_WAIT_SECONDS have passed; `retrying(fn)` runs `fn`
once more after such a wait. Neither works inside a transaction: one cut by the outage is gone, and its caller
must start it again from the beginning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

LOST = (OperationalError, InterfaceError)
T = TypeVar("T")
log = logging.getLogger("portal")


def wait_for_database(seconds: float | None = None) -> None:
    """Reconnect once the database answers again; the last error is raised after `seconds`
    (settings.DB_WAIT_SECONDS)."""
    deadline = time.monotonic() + (settings.DB_WAIT_SECONDS if seconds is None else seconds)
    pause = 0.5
    while True:
        try:
            connection.close()  # the broken one; closing it may fail too
        except LOST:
            pass
        try:
            connection.ensure_connection()
            return
        except LOST:
            if time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(2 * pause, 5.0)


def retrying(fn: Callable[[], T]) -> T:
    """fn(), and when the database connection was lost, fn() once more after the database is back.

    For statements that may run twice (a conditional UPDATE, a claim): the first may have committed just
    before the connection went."""
    try:
        return fn()
    except LOST as exc:
        if connection.in_atomic_block:
            raise
        log.warning("the database connection was lost, waiting for it: %s", str(exc).strip().splitlines()[0])
        wait_for_database()
        return fn()
