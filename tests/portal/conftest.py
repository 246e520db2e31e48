"""Every portal test starts with an empty cache: the database is rolled back between tests without the save
signals that replace the public pages' catalogue version (portal/gallery/public_cache.py). Also here: a public
catalogue and headless Chromium for the browser tests."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from portal.catalog.models import Collection, Item
from portal.jobs.models import ColorModel, Status
from tests.support import ARTIFACTS
from tests.support.catalog import add_item, add_result
from tests.support.services import CHROMIUM, require_service


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield


# ---------------------------------------------------------------- a public catalogue (IIIF, JSON-LD, export, API)


@pytest.fixture
def archive(tmp_path):
    harbour = Collection.objects.create(title="Harbour", slug="harbour", description="Docks and ships")
    default = ColorModel.objects.create(name="unet", checkpoint="models/a.pt", is_default=True,
                                        info={"version": "10"})  # fmt: skip
    other = ColorModel.objects.create(name="unet-bins", checkpoint="models/b.pt", info={"version": "9"})
    dock = add_item(tmp_path, "Dock cranes", collection=harbour, description="Cranes at the quay.",
                    date="circa 1923", place="Hamburg", people="Anna Berg; Karl Maier", subjects="cranes; ships",
                    creator="Studio Lind", source_archive="Harbour Museum", source_identifier="HM-1923-7",
                    rights="http://rightsstatements.org/vocab/NoC-NC/1.0/")  # fmt: skip
    film = add_item(tmp_path, "Tram street", film=True, collection=harbour)
    draft = add_item(tmp_path, "Secret draft", Item.Status.DRAFT, collection=harbour)
    return {
        "harbour": harbour, "dock": dock, "film": film, "draft": draft,
        "by_default": add_result(tmp_path, dock, default, approved=True),
        "by_other": add_result(tmp_path, dock, other, approved=True),
        "unapproved": add_result(tmp_path, dock, other, approved=False),
        "failed": add_result(tmp_path, dock, default, approved=True, status=Status.FAILED),
        "film_result": add_result(tmp_path, film, default, approved=True),
        "draft_result": add_result(tmp_path, draft, default, approved=True),
    }  # fmt: skip


# ---------------------------------------------------------------- headless Chromium (Debian's), driven by Playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")
    require_service("chromium", "the browser tests click through real pages")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop here
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
