"""Every portal test starts with an empty cache: the database is rolled back between tests without the save
signals that replace the public pages' catalogue version (portal/gallery/public_cache.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files import File

from portal.catalog.models import Collection, Item
from portal.jobs.models import ColorizationRequest, ColorModel, Status
from tests.conftest import make_film, make_photo


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield


# ---------------------------------------------------------------- a public catalogue (IIIF, JSON-LD, export, API)


def add_item(
    tmp_path: Path, title: str, status: str = Item.Status.PUBLISHED, film: bool = False, **fields
) -> Item:
    """An item whose original is a real photograph (or film) file, with the sizes its worker would record."""
    path = make_film(tmp_path / f"{title}.mp4") if film else make_photo(tmp_path / f"{title}.png")
    item = Item(title=title, status=status, sha256=title.encode().hex().ljust(64, "0")[:64],
                original_name=path.name, width=64 if film else 96, height=48 if film else 72,
                type=Item.Type.MOVING_IMAGE if film else Item.Type.STILL_IMAGE, **fields)  # fmt: skip
    if film:
        item.duration, item.frame_count = 2.0, 20
    with open(path, "rb") as f:
        item.original.save(path.name, File(f), save=False)
    item.save()
    return item


def add_record(title: str, status: str = Item.Status.PUBLISHED, **fields) -> Item:
    """An item whose original is named but never written: for search and listing tests that do not open it."""
    item = Item(title=title, status=status, sha256=title.encode().hex().ljust(64, "0")[:64],
                original_name="a.png", **fields)  # fmt: skip
    item.original.name = "originals/a.png"
    item.save()
    return item


def add_result(tmp_path: Path, item: Item, model: ColorModel, approved: bool, status=Status.DONE):
    req = ColorizationRequest.objects.create(
        item=item, model=model, preset="film" if item.is_film else "photo", status=status, approved=approved
    )
    path = (
        make_film(tmp_path / f"result-{req.pk}.mp4")
        if item.is_film
        else make_photo(tmp_path / f"result-{req.pk}.png", gray=False)
    )
    with open(path, "rb") as f:
        req.result.save(path.name, File(f), save=True)
    return req


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
