"""Deep zoom (portal/gallery/deepzoom.py): tile pyramids exist only while their item may be seen, made by the
worker when a photograph is published or a colorization approved, taken down at once when that stops; the
manifest names them as a level-0 ImageService3 and the item page offers them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from portal.catalog.models import Item
from portal.gallery import deepzoom
from portal.jobs.models import ColorModel
from tests.support.catalog import add_item, add_result
from tests.support.services import wait_for

BASE = "http://testserver/iiif/image"


def pyramid(key: str) -> Path:
    return Path(settings.MEDIA_ROOT) / "iiif" / "image" / key


def tile_names(key: str) -> list[str]:
    return sorted(p.relative_to(pyramid(key)).as_posix() for p in pyramid(key).rglob("*.jpg"))


@pytest.fixture
def here(settings, tmp_path):
    """A media folder of this test's own (no other test's pyramids), the embedded setup's tile serving."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IIIF_IMAGE_URL = BASE
    settings.SERVE_TILES = True


@pytest.fixture
def model(db):
    return ColorModel.objects.create(name="unet", checkpoint="models/a.pt", is_default=True)


@pytest.mark.django_db
def test_publication_decides_which_pyramids_exist(
    here, tmp_path, client, model, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        item = add_item(tmp_path, "Dock cranes", Item.Status.DRAFT)
        approved = add_result(tmp_path, item, model, approved=True)
        unapproved = add_result(tmp_path, item, model, approved=False)
    assert not pyramid(f"item-{item.pk}").exists(), "a draft item has no public tiles"
    assert client.get(f"/iiif/image/item-{item.pk}/info.json").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        item.publish()
    info = client.get(f"/iiif/image/item-{item.pk}/info.json")
    assert info.status_code == 200 and info["Access-Control-Allow-Origin"] == "*"
    doc = json.loads(b"".join(info.streaming_content))
    assert doc["id"] == f"{BASE}/item-{item.pk}" and doc["profile"] == "level0"
    assert (doc["width"], doc["height"]) == (96, 72)
    tile = client.get(f"/iiif/image/item-{item.pk}/{tile_names(f'item-{item.pk}')[0]}")
    assert tile.status_code == 200 and tile["Content-Type"] == "image/jpeg"
    assert pyramid(f"result-{approved.pk}").is_dir(), "the approved colorization has tiles"
    assert not pyramid(f"result-{unapproved.pk}").exists(), "an unapproved one has none"

    # the manifest's painted images carry the pyramids as level-0 image services
    manifest = client.get(f"/iiif/items/{item.pk}/manifest").json()
    services = [c["items"][0]["items"][0]["body"].get("service") for c in manifest["items"]]
    assert services == [
        [{"id": f"{BASE}/item-{item.pk}", "type": "ImageService3", "profile": "level0"}],
        [{"id": f"{BASE}/result-{approved.pk}", "type": "ImageService3", "profile": "level0"}],
    ]
    # the item page offers deep zoom on both, the colorization first
    page = client.get(item.get_absolute_url()).content.decode()
    assert "data-deep-zoom" in page and "vendor/openseadragon/openseadragon.min.js" in page
    assert page.index(f"/iiif/image/result-{approved.pk}/info.json") < page.index(
        f"/iiif/image/item-{item.pk}/info.json"
    )

    with django_capture_on_commit_callbacks(execute=True):
        approved.withdraw_approval()
    assert not pyramid(f"result-{approved.pk}").exists(), "a withdrawn colorization is taken down"
    assert pyramid(f"item-{item.pk}").is_dir()

    with django_capture_on_commit_callbacks(execute=True):
        item.unpublish()
    assert not pyramid(f"item-{item.pk}").exists(), "an unpublished item is taken down at once"
    assert client.get(f"/iiif/image/item-{item.pk}/info.json").status_code == 404
    assert [p.name for p in pyramid("").iterdir()] == [], "nothing hidden stays behind"


@pytest.mark.django_db
def test_deleting_takes_the_tiles_down(here, tmp_path, model, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        item = add_item(tmp_path, "Quay")
        result = add_result(tmp_path, item, model, approved=True)
    assert pyramid(f"item-{item.pk}").is_dir() and pyramid(f"result-{result.pk}").is_dir()
    with django_capture_on_commit_callbacks(execute=True):
        result.delete()
    assert not pyramid(f"result-{result.pk}").exists()
    with django_capture_on_commit_callbacks(execute=True):
        item.delete()
    assert not pyramid(f"item-{item.pk}").exists()


@pytest.mark.django_db
def test_films_and_hidden_folders_are_never_served(
    here, tmp_path, client, model, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        film = add_item(tmp_path, "Tram", film=True)
        add_result(tmp_path, film, model, approved=True)
    assert not pyramid("").exists() or not list(pyramid("").iterdir()), "a film has no tile pyramid"
    hidden = pyramid(".item-1.incoming-x")
    hidden.mkdir(parents=True)
    (hidden / "info.json").write_text("{}")
    assert client.get("/iiif/image/.item-1.incoming-x/info.json").status_code == 404
    assert "data-deep-zoom" not in client.get(film.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_not_served_by_django_outside_the_embedded_setup(here, tmp_path, client, settings):
    pyramid("item-5").mkdir(parents=True)
    (pyramid("item-5") / "info.json").write_text("{}")
    assert client.get("/iiif/image/item-5/info.json").status_code == 200
    settings.SERVE_TILES = False  # production: the proxy answers /iiif/image/ (docker/nginx)
    assert client.get("/iiif/image/item-5/info.json").status_code == 404


@pytest.mark.django_db
def test_sync_tiles_makes_what_items_published_earlier_lack(here, tmp_path):
    item = add_item(tmp_path, "Old quay")  # published with no commit hook run: no tiles yet
    assert not deepzoom.exists(f"item-{item.pk}")
    call_command("sync_tiles", stdout=io.StringIO())
    assert deepzoom.exists(f"item-{item.pk}")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_makes_the_tiles_when_an_item_is_published(live_worker, tmp_path, model):
    item = add_item(tmp_path, "Harbour master", Item.Status.DRAFT)
    result = add_result(tmp_path, item, model, approved=True)
    item.publish()  # commits: the worker is asked for the tiles
    for key in (f"item-{item.pk}", f"result-{result.pk}"):
        wait_for(lambda k=key: deepzoom.exists(k), 120, what=f"the tiles {key}", log=live_worker.log)
    doc = json.loads((pyramid(f"item-{item.pk}") / "info.json").read_text())
    assert doc["type"] == "ImageService3" and doc["id"].endswith(f"/iiif/image/item-{item.pk}")
    item.unpublish()
    assert not pyramid(f"item-{item.pk}").exists() and not pyramid(f"result-{result.pk}").exists()


def test_openseadragon_is_vendored_with_its_licence():
    """The viewer the item page loads ships from this site's static files (no CDN), its BSD licence beside it."""
    from django.contrib.staticfiles import finders

    script = finders.find("vendor/openseadragon/openseadragon.min.js")
    assert script, "OpenSeadragon is not among the static files"
    assert Path(script).read_text(encoding="utf-8")[:200].startswith("//! openseadragon ")
    licence = Path(script).with_name("LICENSE.txt").read_text(encoding="utf-8")
    assert "OpenSeadragon contributors" in licence and "Redistribution and use" in licence
