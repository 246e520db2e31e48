"""The front door: a strict CSP, only the methods a view serves, error pages without paths, password rules,
a demo that stays on loopback, and a first-run command for production instead of the Django shell."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import RequestFactory
from django.views.defaults import server_error

from portal.catalog.models import Collection, Item
from portal.jobs.models import ColorizationRequest, ColorModel, Status

ROOT = Path(__file__).resolve().parents[2]


def _clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "S3_", "COLORARCHIVE_", "MEDIA_"))}  # fmt: skip
    return {**env, **{k: str(v) for k, v in extra.items()}}


def _manage(*args: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=_clean_env(**env),
                          capture_output=True, text=True, timeout=300)  # fmt: skip


@pytest.fixture
def published(db):
    coll = Collection.objects.create(title="Harbour", slug="harbour")
    model = ColorModel.objects.create(name="unet-a", checkpoint="models/a.pt", is_default=True)
    item = Item(title="Dock", status=Item.Status.PUBLISHED, sha256="a" * 64, original_name="dock.png",
                collection=coll)  # fmt: skip
    item.original.save("dock.png", ContentFile(b"original"), save=False)
    item.preview.save("p.jpg", ContentFile(b"preview"), save=False)
    item.save()
    req = ColorizationRequest.objects.create(item=item, model=model, preset="photo", status=Status.DONE,
                                             approved=True)  # fmt: skip
    req.result.save("r.jpg", ContentFile(b"result"), save=True)
    return item


def test_production_settings_pass_check_deploy_without_warnings(tmp_path):
    out = _manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_DEBUG=0,
                  DJANGO_SECRET_KEY=secrets.token_urlsafe(50), DJANGO_ALLOWED_HOSTS="archive.example",
                  DATABASE_URL="postgres://u:p@db:5432/archive", REDIS_URL="redis://redis:6379/0",
                  COLORARCHIVE_VAR=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "System check identified no issues" in out.stdout


def test_pages_carry_a_strict_csp_and_no_inline_code(client, published, staff_user):
    pages = ["/", "/search/", f"/items/{published.pk}/", "/collections/harbour/", "/accounts/login/"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe" not in policy
        html = response.content.decode()
        # a JSON-LD block is data a browser never runs (CSP's script-src governs code), so it may be inline
        code = r"<script(?![^>]*\bsrc=)(?![^>]*\btype=\"application/ld\+json\")[^>]*>"
        assert not re.search(code, html), f"inline script on {url}"
        assert not re.search(r"\sstyle=|\son[a-z]+=", html), f"inline style or handler on {url}"
    client.force_login(staff_user)
    for url in ["/catalog/", f"/catalog/items/{published.pk}/", "/catalog/upload/", "/jobs/"]:
        html = client.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>|\sstyle=", html), url


def test_views_accept_only_the_methods_they_serve(client, published, staff_user):
    assert client.post("/").status_code == 302  # visitors may not post at all (test_portal_front_door.py)
    client.force_login(staff_user)
    assert client.post("/").status_code == 405
    assert client.put("/search/").status_code == 405
    assert client.delete(f"/items/{published.pk}/").status_code == 405
    assert client.post(f"/files/items/{published.pk}/original").status_code == 405
    assert client.post("/catalog/").status_code == 405
    assert client.put("/catalog/upload/").status_code == 405
    assert client.patch(f"/catalog/items/{published.pk}/").status_code == 405
    assert client.get(f"/catalog/items/{published.pk}/publish/").status_code == 405
    assert client.get("/catalog/upload/").status_code == 200


def test_error_pages_are_friendly_and_show_no_paths(client, db, settings):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Not found" in html and str(settings.BASE_DIR) not in html and "urlpatterns" not in html
    response = server_error(RequestFactory().get("/"))
    html = response.content.decode()
    assert response.status_code == 500 and "Something went wrong" in html
    assert str(settings.BASE_DIR) not in html and "Traceback" not in html


def test_django_password_validators_refuse_weak_passwords(db, django_user_model):
    user = django_user_model(username="harbourmaster")
    for weak in ("12345678", "password", "harbourmaster1", "short"):
        with pytest.raises(ValidationError):
            validate_password(weak, user)
    validate_password("tide-lantern-basalt-47", user)


def test_debug_never_allows_every_host(tmp_path):
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='portal.settings'; django.setup(); "
        "from django.conf import settings as s; print(s.DEBUG, s.ALLOWED_HOSTS)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT,
                         env=_clean_env(DJANGO_DEBUG=1, COLORARCHIVE_VAR=tmp_path),
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.stdout.split() == ["True", "[]"], out.stderr  # Django's loopback-only default


def test_demo_refuses_a_public_address_without_the_insecure_flag(tmp_path):
    out = _manage("demo", "0.0.0.0:8000", "--no-serve", "--no-worker", COLORARCHIVE_VAR=tmp_path / "var")
    assert out.returncode != 0
    assert "loopback only" in out.stderr and "--insecure-public" in out.stderr
    assert not (tmp_path / "var" / "colorarchive.sqlite3").exists() or "Seeded" not in out.stdout


def test_setup_archive_creates_groups_and_first_accounts_once(db, django_user_model, capsys):
    call_command("setup_archive", "--admin", "director", "--staff", "curator", "--noinput", "--no-models")
    director = django_user_model.objects.get(username="director")
    curator = django_user_model.objects.get(username="curator")
    assert director.is_superuser and director.groups.filter(name="admins").exists()
    assert not curator.is_superuser and curator.groups.filter(name="staff").exists()
    assert not director.has_usable_password() and not curator.has_usable_password()
    assert "changepassword curator" in capsys.readouterr().out
    call_command("setup_archive", "--staff", "curator", "--noinput", "--no-models")  # again: nothing doubles
    assert django_user_model.objects.filter(username="curator").count() == 1
    assert set(Group.objects.values_list("name", flat=True)) >= {"staff", "admins"}


def test_setup_archive_registers_the_installed_models(db, tiny_model, tmp_path, monkeypatch, capsys):
    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny.pt").write_bytes(tiny_model.read_bytes())
    (models / "DEFAULT").write_text("tiny.pt\n")
    monkeypatch.setenv("COLORARCHIVE_MODELS", str(models))
    call_command("setup_archive", "--noinput")
    assert ColorModel.default().name == "tiny"
    assert "Model: tiny" in capsys.readouterr().out
    call_command("setup_archive", "--noinput")
    assert ColorModel.objects.filter(name="tiny").count() == 1
