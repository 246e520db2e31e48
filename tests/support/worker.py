"""A real `celery worker` process for the tests, and the test process's Celery app switched to its broker."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from tests.support import ROOT
from tests.support.services import die_with_parent, wait_for


@contextmanager
def app_on_broker(broker: str, prefix: str = ""):
    """The test process's Celery app sends to `broker` (not eagerly) inside the block, as before after it."""
    from portal.celery import app

    old = {k: app.conf.get(k) for k in ("task_always_eager", "broker_url", "broker_transport_options")}
    app.conf.update(
        task_always_eager=False,
        broker_url=broker,
        broker_transport_options={"global_keyprefix": prefix} if prefix else {},
    )
    _reset_producers(app)
    try:
        yield app
    finally:
        app.conf.update(old)
        _reset_producers(app)


@contextmanager
def celery_worker(
    broker: str,
    prefix: str,
    log: Path,
    name: str = "test",
    database_url: str | None = None,
    pool: str = "solo",
    **env_vars: str,
):
    """A real `celery worker` process (-Q gpu,cpu,preview, solo pool, or `pool` with one child: production's
    prefork) on `broker`, reading the pytest test database (or `database_url`); `env_vars` are added to its
    environment."""
    from django.conf import settings
    from django.db import connection

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.test_settings",
        "COLORARCHIVE_TEST_DATABASE_URL": database_url or settings.POSTGRES_URL,
        "COLORARCHIVE_TEST_DATABASE_NAME": database_url.rsplit("/", 1)[1]
        if database_url
        else connection.settings_dict["NAME"],
        "COLORARCHIVE_TEST_WORKER": "1",
        "CELERY_BROKER_URL": broker,
        "COLORARCHIVE_TEST_REDIS_PREFIX": prefix,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "COLORARCHIVE_WORK": str(settings.WORK_DIR),
        "COLORARCHIVE_SEGMENT_FRAMES": "8",
        "PYTHONPATH": str(ROOT),
        **env_vars,
    }
    cmd = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", "gpu,cpu,preview", "--pool", pool, "--concurrency", "1",
           "--loglevel", "INFO", "-n", f"{name}-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
           "--without-heartbeat"]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
    try:
        wait_for(
            lambda: "ready." in log.read_text() or proc.poll() is not None, 120, what="the worker", log=log
        )
        if proc.poll() is not None:
            raise AssertionError(f"the celery worker exited:\n{log.read_text()[-4000:]}")
        proc.log = log
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _reset_producers(app) -> None:
    """Forget connections made for the previous broker (an eager test may have opened the memory transport).

    kombu keeps its pools in process-wide groups keyed by the broker: closing the app's pool alone would leave a
    closed pool there, which the next send to the same broker (an eager test after a worker test) would get."""
    from kombu import pools

    pools.reset()  # closes every pool and forgets them all
    app._pool = None
    app.amqp._producer_pool = None
