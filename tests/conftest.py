"""Shared fixtures: generated media, a tiny model, users with roles, and a real Celery worker process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"


# ---------------------------------------------------------------- media made by the tests


def make_photo(path: Path, size: tuple[int, int] = (96, 72), gray: bool = True) -> Path:
    """A small photograph-like image: gradient sky, a disc, stripes (greyscale or colour)."""
    from PIL import Image

    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 90 + 120 * y / h
    g = 60 + 150 * x / w
    b = 160 - 100 * (y / h)
    disc = (x - w * 0.6) ** 2 + (y - h * 0.45) ** 2 < (min(w, h) * 0.22) ** 2
    r[disc], g[disc], b[disc] = 220, 80, 40
    stripes = (x.astype(int) // 8) % 2 == 0
    g[stripes & (y > h * 0.75)] = 200
    rgb = np.stack([r, g, b], axis=-1).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(rgb)
    if gray:
        image = image.convert("L")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def make_film(
    path: Path, frames: int = 20, size: tuple[int, int] = (64, 48), fps: int = 10, gop: int = 5
) -> Path:
    """A short greyscale H.264 film with a moving square (keyframes every `gop` frames)."""
    import av

    w, h = size
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.gop_size = gop
        stream.options = {"preset": "ultrafast", "bf": "0", "sc_threshold": "0", "keyint_min": str(gop)}
        for i in range(frames):
            img = np.full((h, w, 3), 40 + (4 * i) % 200, dtype=np.uint8)  # any length fits in a byte
            x0 = (i * 2) % (w - 16)
            img[16:32, x0 : x0 + 16] = 220
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture
def photo_file(tmp_path) -> Path:
    return make_photo(tmp_path / "harbour_1923.png")


@pytest.fixture
def film_file(tmp_path) -> Path:
    return make_film(tmp_path / "street_scene.mp4")


@pytest.fixture
def tiny_model(tmp_path) -> Path:
    """A tiny U-Net checkpoint (random weights): fast on CPU, same format as a trained model."""
    from colorization import checkpoint
    from colorization.models import UNet, UNetConfig

    return checkpoint.save(tmp_path / "tiny.pt", UNet(UNetConfig(width=4)), name="tiny")


# ---------------------------------------------------------------- portal users


@pytest.fixture
def model_row(tiny_model, django_capture_on_commit_callbacks):
    """The tiny model registered in the portal (as an admin's upload would be)."""
    from django.core.files import File

    from portal.jobs import services

    with django_capture_on_commit_callbacks(execute=True), open(tiny_model, "rb") as f:
        return services.register_model("tiny", File(f, name="tiny.pt"))


def _user(django_user_model, username: str, group: str | None = None, superuser: bool = False):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username, f"{username}@example.org", "pass-1234-word")
    if superuser:
        user.is_superuser = user.is_staff = True
        user.save()
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def staff_user(db, django_user_model):
    return _user(django_user_model, "curator", "staff")


@pytest.fixture
def admin_account(db, django_user_model):
    return _user(django_user_model, "director", superuser=True)


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def admin_client_(client, admin_account):
    client.force_login(admin_account)
    return client


# ---------------------------------------------------------------- real services


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def redis_available() -> bool:
    return _port_open("127.0.0.1", 6379)


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


@pytest.fixture(scope="session")
def live_worker(django_db_setup, tmp_path_factory):
    """A real `celery worker` (-Q gpu,cpu, solo pool) on Redis, reading the pytest test database.

    The test process's Celery app switches from eager mode to the same Redis broker (own key prefix, so
    nothing else on the server is touched) for the session's remaining tests.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("integration tests need PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres or root)")
    if not redis_available():
        pytest.skip("integration tests need Redis on 127.0.0.1:6379")

    prefix = f"colorarchive-test-{os.getpid()}:"
    broker = "redis://127.0.0.1:6379/15"
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with app_on_broker(broker, prefix), celery_worker(broker, prefix, log) as proc:
        yield proc


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
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
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


def _die_with_parent() -> None:
    """The worker gets SIGTERM if pytest itself is killed, so no orphan keeps the test database open."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _reset_producers(app) -> None:
    """Forget connections made for the previous broker (an eager test may have opened the memory transport).

    kombu keeps its pools in process-wide groups keyed by the broker: closing the app's pool alone would leave a
    closed pool there, which the next send to the same broker (an eager test after a worker test) would get."""
    from kombu import pools

    pools.reset()  # closes every pool and forgets them all
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, and at the end no stray sessions (live_server's thread) blocking its drop.

    The portal sends tasks by name (portal/broker.py) and eager mode runs only the tasks this process has
    registered, so the tests load the task modules first, as a worker does when it starts."""
    from portal.celery import app

    app.loader.import_default_modules()
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [connection.settings_dict["NAME"]],
            )


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
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent
        )
        wait_for(lambda: _port_open("127.0.0.1", self.port), 30, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.proc = None


@pytest.fixture
def private_redis(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("fault tests need the redis-server binary")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def postgres_binaries() -> Path | None:
    """The folder of the newest installed PostgreSQL server binaries (Debian's layout), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def _as_postgres_user() -> None:
    """Run as the `postgres` account when the tests run as root (the server refuses root), dying with pytest."""
    import pwd

    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.setgid(account.pw_gid)
        os.setuid(account.pw_uid)
    _die_with_parent()  # after the change of user, which clears the parent-death signal


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
        import signal

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


@pytest.fixture
def private_postgres():
    binaries = postgres_binaries()
    if binaries is None:
        pytest.skip("fault tests need the PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
    server = PostgresServer(binaries)
    server.start()
    yield server
    server.remove()


class SmallDisk:
    """A real, small file system mounted at `folder` that a test fills and frees: a tmpfs, or where tmpfs cannot
    be mounted, an ext4 image on a loop device. `kind` says which. Needs root (CAP_SYS_ADMIN)."""

    def __init__(self, folder: Path, size_kb: int):
        self.folder, self.filler = folder, folder / "filler"
        folder.mkdir(parents=True, exist_ok=True)
        tmpfs = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", folder],
                               capture_output=True, text=True)  # fmt: skip
        self.kind = "tmpfs"
        if tmpfs.returncode != 0:
            image = folder.with_name(folder.name + ".img")
            with open(image, "wb") as f:
                f.truncate(size_kb * 1024)
            loop = subprocess.run(f"mkfs.ext4 -q -F {image} && mount -o loop {image} {folder}", shell=True,
                                  capture_output=True, text=True)  # fmt: skip
            if loop.returncode != 0:
                pytest.skip(
                    f"no small file system can be mounted here: {tmpfs.stderr.strip()}; {loop.stderr.strip()}"
                )
            self.kind = "ext4 on a loop device"
        os.chmod(folder, 0o1777)

    def fill(self) -> None:
        """Write zeros until the file system refuses (ENOSPC)."""
        import errno

        with open(self.filler, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        assert shutil.disk_usage(self.folder).free < 8192

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def files(self) -> list[Path]:
        """Every file left on it but the filler (partial writes included)."""
        return sorted(p for p in self.folder.rglob("*") if p.is_file() and p != self.filler)

    def unmount(self) -> None:
        subprocess.run(
            ["umount", "-l", self.folder], capture_output=True
        )  # lazy: a leaked handle cannot block


@pytest.fixture
def small_disk(tmp_path):
    """small_disk(name, size_kb=2048): a SmallDisk under tmp_path, unmounted after the test."""
    mounted = []

    def mount(name: str, size_kb: int = 2048) -> SmallDisk:
        mounted.append(SmallDisk(tmp_path / name, size_kb))
        return mounted[-1]

    yield mount
    for disk in mounted:
        disk.unmount()
