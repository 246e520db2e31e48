"""Backup, restore and export (RELIABILITY.md): scripts/backup.sh and scripts/restore.sh against a throwaway
PostgreSQL database this test creates and drops, and `manage.py export_catalog`."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.files import File
from django.core.management import call_command
from django.db import connection

from portal.catalog.ingest import add_item
from portal.catalog.models import Item
from tests.support.services import require_service

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def archived(photo_file, staff_user) -> Item:
    with open(photo_file, "rb") as f:
        return add_item(File(f, name=photo_file.name), user=staff_user, title="=HYPERLINK(\"http://x\")",
                        place="+Hamburg", people="@anna; -bert")  # fmt: skip


def test_export_catalog_writes_csv_and_json_with_formulas_neutralised(archived, tmp_path):
    call_command("export_catalog", str(tmp_path / "out"), stdout=io.StringIO())
    with open(tmp_path / "out" / "items.csv", newline="", encoding="utf-8") as f:
        (row,) = list(csv.DictReader(f))
    assert row["title"] == '\'=HYPERLINK("http://x")' and row["place"] == "'+Hamburg"
    assert row["people"] == "'@anna; -bert" and row["sha256"] == archived.sha256
    (record,) = json.loads((tmp_path / "out" / "items.json").read_text())
    assert record["title"] == '=HYPERLINK("http://x")' and record["original"] == archived.original.name
    assert json.loads((tmp_path / "out" / "results.json").read_text()) == []


def _url(name: str) -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _run(script: str, arg: Path, database: str, media: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", "DATABASE_URL": _url(database),
           "MEDIA_ROOT": str(media), "COLORARCHIVE_VAR": str(tmp_path / "var")}  # fmt: skip
    return subprocess.run(["bash", f"scripts/{script}", str(arg)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_backup_and_restore_into_a_throwaway_database(archived, settings, tmp_path):
    require_service("postgresql", "the backup scripts dump and restore a PostgreSQL database")
    require_service("pg_dump", "the backup scripts dump and restore a PostgreSQL database")
    if not shutil.which("rsync"):
        pytest.skip("needs rsync (apt-get install rsync)")
    backup = tmp_path / "backup"
    made = _run("backup.sh", backup, connection.settings_dict["NAME"], Path(settings.MEDIA_ROOT), tmp_path)
    assert made.returncode == 0, made.stderr
    assert (backup / "db.dump").stat().st_size > 0 and (backup / "catalog" / "items.csv").exists()

    throwaway = f"{connection.settings_dict['NAME']}_restore_{os.getpid()}"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{throwaway}"')
        cursor.execute(f'CREATE DATABASE "{throwaway}"')
    try:
        restored_media = tmp_path / "restored-media"
        out = _run("restore.sh", backup, throwaway, restored_media, tmp_path)
        assert out.returncode == 0, out.stderr
        assert "1 original(s) checked, 0 failed" in out.stdout  # every original read back against its hash
        import psycopg

        with psycopg.connect(_url(throwaway)) as db:
            row = db.execute("SELECT sha256, title FROM catalog_item").fetchone()
        assert row == (archived.sha256, archived.title)

        original = restored_media / archived.original.name  # a damaged copy is caught by the same check
        data = bytearray(original.read_bytes())
        data[-1] ^= 0x01
        original.write_bytes(bytes(data))
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", "DATABASE_URL": _url(throwaway),
               "MEDIA_ROOT": str(restored_media), "COLORARCHIVE_VAR": str(tmp_path / "var")}  # fmt: skip
        check = subprocess.run(["python", "manage.py", "fixity_check"], cwd=ROOT, env=env, capture_output=True,
                               text=True, timeout=300)  # fmt: skip
        assert check.returncode != 0 and "SHA-256" in check.stderr
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [throwaway]
            )
            cursor.execute(f'DROP DATABASE IF EXISTS "{throwaway}"')
