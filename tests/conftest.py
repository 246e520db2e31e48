"""Shared fixtures: generated media, a tiny model, users with roles, and a real Celery worker process.

Helpers live in tests/support/; this module holds fixtures only (and the `service` marker's check)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.media import make_film, make_photo
from tests.support.services import (
    PostgresServer,
    RedisServer,
    postgres_binaries,
    require_service,
)
from tests.support.worker import app_on_broker, celery_worker


def pytest_runtest_setup(item: pytest.Item) -> None:
    """`@pytest.mark.service(name, why)`: the test needs that service (tests/support/services.py's rule)."""
    for mark in item.iter_markers("service"):
        require_service(*mark.args, **mark.kwargs)


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


@pytest.fixture(scope="session")
def live_worker(django_db_setup, tmp_path_factory):
    """A real `celery worker` (-Q gpu,cpu, solo pool) on Redis, reading the pytest test database.

    The test process's Celery app switches from eager mode to the same Redis broker (own key prefix, so
    nothing else on the server is touched) for the session's remaining tests.
    """

    require_service("postgresql", "the worker integration tests share the test database with the worker")
    require_service("redis", "the worker integration tests send tasks through Redis")

    prefix = f"colorarchive-test-{os.getpid()}:"
    broker = "redis://127.0.0.1:6379/15"
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with app_on_broker(broker, prefix), celery_worker(broker, prefix, log) as proc:
        yield proc


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


@pytest.fixture
def private_redis(tmp_path):
    require_service("redis-server", "fault tests start and stop their own Redis")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_postgres():
    require_service("postgresql-server", "fault tests start and stop their own PostgreSQL")
    server = PostgresServer(postgres_binaries())
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
