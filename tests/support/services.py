"""The services the tests need, found or started, and the one rule for a test that finds one missing.

A test that needs PostgreSQL, Redis, Chromium or nginx asks `require_service(name, why)`. Where the service is
absent the test skips with its reason, so the suite passes on a machine without them; with
COLORARCHIVE_REQUIRE_SERVICES=1 (`.ci/run` sets it) the test fails instead, naming the service and how to get
it, so a run that was meant to cover everything cannot pass by skipping. Missing data (../shared) is not a
service: such tests skip either way.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

REQUIRE_SERVICES = "COLORARCHIVE_REQUIRE_SERVICES"
CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright drives it by executable_path


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def redis_available() -> bool:
    return port_open("127.0.0.1", 6379)


def postgres_binaries() -> Path | None:
    """The folder of the newest installed PostgreSQL server binaries (Debian's layout), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def _test_database_is_postgres() -> bool:
    """portal/test_settings.py picks PostgreSQL when it answers on 127.0.0.1:5432, else SQLite."""
    from django.db import connection

    return connection.vendor == "postgresql"


# name: (is it here?, how to get it)
SERVICES: dict[str, tuple[Callable[[], bool], str]] = {
    "postgresql": (
        _test_database_is_postgres,
        "PostgreSQL answering on 127.0.0.1:5432 with trust auth for user postgres or root "
        "(apt-get install postgresql; scripts/test.sh starts it)",
    ),
    "postgresql-server": (
        lambda: postgres_binaries() is not None,
        "the PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)",
    ),
    "pg_dump": (lambda: bool(shutil.which("pg_dump")), "pg_dump and pg_restore (apt-get install postgresql-client)"),
    "redis": (redis_available, "Redis answering on 127.0.0.1:6379 (apt-get install redis-server; scripts/test.sh starts it)"),
    "redis-server": (lambda: bool(shutil.which("redis-server")), "the redis-server binary (apt-get install redis-server)"),
    "chromium": (lambda: bool(shutil.which(CHROMIUM)), f"Debian's Chromium at {CHROMIUM} (apt-get install chromium)"),
    "nginx": (lambda: bool(shutil.which("nginx")), "nginx on the PATH (apt-get install nginx)"),
}  # fmt: skip


def services_required() -> bool:
    return os.environ.get(REQUIRE_SERVICES, "") not in ("", "0")


def require_service(name: str, why: str) -> None:
    """Go on where the service `name` (a key of SERVICES) is here; else skip the test, or fail it where
    COLORARCHIVE_REQUIRE_SERVICES=1."""
    present, how = SERVICES[name]
    if not present():
        service_missing(name, why)


def service_missing(name: str, why: str) -> NoReturn:
    """End the test for want of the service `name`: a skip, or a failure where services are required."""
    message = f"{why}: {name} is missing; get {SERVICES[name][1]}"
    if services_required():
        pytest.fail(f"{message} ({REQUIRE_SERVICES}=1: a missing service fails the run)", pytrace=False)
    pytest.skip(message)


def wait_for(
    predicate, timeout: float = 240, interval: float = 0.5, what: str = "condition", log: Path | None = None
):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    tail = log.read_text()[-4000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n--- worker log ---\n{tail}")


def die_with_parent() -> None:
    """The worker gets SIGTERM if pytest itself is killed, so no orphan keeps the test database open."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spare_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A private redis-server on a spare port that a fault test may stop and start (never the shared one).

    It keeps nothing on disk, so a restart also loses every queued message, as a broker without persistence does;
    `persistent` keeps an append-only file instead (as docker/compose.yaml runs Redis), so a restart brings back
    every key it had.
    """

    def __init__(self, folder: Path, persistent: bool = False):
        self.folder, self.port, self.proc, self.persistent = folder, spare_port(), None, persistent
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
               "yes" if self.persistent else "no", "--dir", str(self.folder)]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent
        )
        wait_for(lambda: port_open("127.0.0.1", self.port), 30, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.proc = None


def _as_postgres_user() -> None:
    """Run as the `postgres` account when the tests run as root (the server refuses root), dying with pytest."""
    import pwd

    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.setgid(account.pw_gid)
        os.setuid(account.pw_uid)
    die_with_parent()  # after the change of user, which clears the parent-death signal


class PostgresServer:
    """A private PostgreSQL server (trust auth, nothing synced to disk) on a spare port, made with the installed
    `initdb`, that a fault test may stop and start (never the shared one). A stop is a fast shutdown: every
    client's connection is cut, as in a restart or a failover."""

    def __init__(self, binaries: Path):
        import tempfile

        self.bin, self.port, self.proc = binaries, spare_port(), None
        self.folder = Path(
            tempfile.mkdtemp(prefix="colorarchive-pg-")
        )  # readable by postgres, unlike tmp_path
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        subprocess.run([self.bin / "initdb", "-D", self.folder / "data", "-U", "postgres", "--auth=trust", "-N",
                        "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True,
                       preexec_fn=_as_postgres_user)  # fmt: skip

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        cmd = [self.bin / "postgres", "-D", self.folder / "data", "-p", str(self.port), "-k", self.folder,
               "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]  # fmt: skip
        with open(self.folder / "server.log", "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_as_postgres_user
            )
        wait_for(self._ready, 60, what=f"PostgreSQL on port {self.port}", log=self.folder / "server.log")

    def _ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def stop(self) -> None:

        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: clients are disconnected, nothing waits
            self.proc.wait(60)
        self.proc = None

    def copy_database(self, source: dict, name: str) -> str:
        """A copy of the database `source` (Django settings of the shared server) here, named `name`; its URL."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        dump = subprocess.run([self.bin / "pg_dump", "-h", source["HOST"] or "127.0.0.1", "-p",
                               str(source["PORT"] or 5432), "-U", source["USER"], "--no-owner", source["NAME"]],
                              check=True, capture_output=True).stdout  # fmt: skip
        subprocess.run([self.bin / "psql", "-q", "-v", "ON_ERROR_STOP=1", self.url(name)], input=dump,
                       check=True, capture_output=True)  # fmt: skip
        return self.url(name)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
