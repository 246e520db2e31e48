"""Configuration: the embedded default needs no variables; production fails fast on anything missing."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _settings(env: dict) -> subprocess.CompletedProcess:
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='portal.settings'; django.setup(); "
        "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL)"
    )
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "S3_"))
    }
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_embedded_setup_when_asked_needs_no_server(tmp_path):
    out = _settings({"DJANGO_DEBUG": "1", "COLORARCHIVE_VAR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["django.db.backends.sqlite3", "filesystem://localhost//"]


def test_settings_default_to_production(tmp_path):
    out = _settings(
        {"COLORARCHIVE_VAR": str(tmp_path)}
    )  # nothing asked for: production, which needs its values
    assert out.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY must be set" in out.stderr


def test_production_fails_fast_naming_the_missing_variable(tmp_path):
    out = _settings({"DJANGO_DEBUG": "0", "COLORARCHIVE_VAR": str(tmp_path)})
    assert out.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY must be set" in out.stderr
    out = _settings({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x" * 50, "DJANGO_ALLOWED_HOSTS": "archive.example",
                     "COLORARCHIVE_VAR": str(tmp_path)})  # fmt: skip
    assert "ImproperlyConfigured: DATABASE_URL must be set" in out.stderr


def test_production_settings_with_everything_set(tmp_path):
    out = _settings({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x" * 50, "DJANGO_ALLOWED_HOSTS": "archive.example",
                     "DATABASE_URL": "postgres://u:p@db:5432/archive", "REDIS_URL": "redis://redis:6379/0",
                     "COLORARCHIVE_VAR": str(tmp_path)})  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["django.db.backends.postgresql", "redis://redis:6379/0"]


def test_a_signing_key_without_its_certificates_stops_start_up(tmp_path):
    out = _settings(
        {"DJANGO_DEBUG": "1", "COLORARCHIVE_VAR": str(tmp_path), "COLORARCHIVE_C2PA_KEY": "/k.pem"}
    )
    assert out.returncode != 0
    assert "COLORARCHIVE_C2PA_KEY and COLORARCHIVE_C2PA_CERT are set together or not at all" in out.stderr
