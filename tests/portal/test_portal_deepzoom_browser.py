"""Deep zoom in headless Chromium: a real worker makes the tiles of a published photograph and its colorization;
the item page opens them in OpenSeadragon (served from this site, no CDN), loads tiles, zooms in with the
keyboard (finer tiles follow), switches to the original, and keeps the before/after slider.
The screenshot goes to test-artifacts/ (git-ignored)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.core.files import File
from PIL import Image

from portal.catalog.models import Item
from portal.gallery import deepzoom
from portal.jobs.models import ColorizationRequest, ColorModel, Status
from tests.support import ARTIFACTS
from tests.support.media import make_photo
from tests.support.services import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
TILE = re.compile(r"/iiif/image/(item|result)-\d+/[^/]+/(\d+),(\d+)/0/default\.jpg$")
SIZE = (3000, 2000)


def _full_resolution(url: str) -> bool:
    """A scale-1 tile: its region is as large as its size."""
    region, size = url.split("/")[-4:-2]
    return region != "full" and region.split(",")[2:] == size.split(",")


def _until(page, predicate, seconds: float, what: str) -> None:
    """Wait in the browser's time (Playwright delivers its events only while it is called, not in time.sleep)."""
    for _ in range(int(seconds * 4)):
        if predicate():
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def test_deep_zoom_opens_on_an_item(browser, live_server, live_worker, tmp_path):
    model = ColorModel.objects.create(name="unet", checkpoint="models/a.pt", is_default=True)
    photo = make_photo(tmp_path / "harbour_1923.png", size=SIZE)
    item = Item(
        title="Harbour, 1923", sha256="e" * 64, original_name=photo.name, width=SIZE[0], height=SIZE[1]
    )
    with open(photo, "rb") as f:
        item.original.save(photo.name, File(f), save=False)
    item.save()
    result = ColorizationRequest(item=item, model=model, preset="photo", status=Status.DONE, approved=True)
    colour = make_photo(tmp_path / "harbour_1923-colorized.png", size=SIZE, gray=False)
    with open(colour, "rb") as f:
        result.result.save(colour.name, File(f), save=True)
    item.publish()  # the worker is asked for both pyramids once this commits
    for key in (f"item-{item.pk}", f"result-{result.pk}"):
        wait_for(lambda k=key: deepzoom.exists(k), 180, what=f"the tiles {key}", log=live_worker.log)

    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    tiles, problems = [], []
    page.on("response", lambda r: tiles.append((r.url, r.status)) if TILE.search(r.url) else None)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}{item.get_absolute_url()}")
    viewer = page.locator("[data-deep-zoom-viewer]")
    page.wait_for_function(
        "() => Number(document.querySelector('[data-deep-zoom-viewer]').dataset.tilesLoaded) > 0"
    )
    assert viewer.get_attribute("data-label").startswith("AI colorization")
    assert tiles and all(status == 200 for _, status in tiles), tiles
    assert all(f"/iiif/image/result-{result.pk}/" in url for url, _ in tiles), "the colorization opens first"
    assert page.locator("[data-compare] .compare-range").count() == 1, "the before/after slider stays"

    # OpenSeadragon drew the picture: the viewer shows the colour photograph, not an empty black box
    page.wait_for_load_state("networkidle")
    shot = ARTIFACTS / "deepzoom-item.png"
    viewer.scroll_into_view_if_needed()
    page.screenshot(path=str(shot), full_page=True)
    box = viewer.screenshot(path=str(ARTIFACTS / "deepzoom-viewer.png"))
    with Image.open(ARTIFACTS / "deepzoom-viewer.png") as drawn:
        pixels = np.asarray(drawn.convert("RGB"), float)
    assert box and pixels.std() > 20 and (pixels.max(axis=2) - pixels.min(axis=2)).mean() > 20

    # the keyboard: focus the image and hold "+" (the = key): it zooms while held; the full-resolution tiles come
    assert not any(_full_resolution(url) for url, _ in tiles)
    page.locator(".openseadragon-canvas").focus()
    page.keyboard.down("Equal")
    try:
        _until(page, lambda: any(_full_resolution(url) for url, _ in tiles), 60, "full-resolution tiles")
    finally:
        page.keyboard.up("Equal")
    page.keyboard.press("0")

    # the buttons: the original, then zoom by button
    before = len(tiles)
    page.get_by_role("button", name="Original").click()
    assert page.get_by_role("button", name="Original").get_attribute("aria-pressed") == "true"
    _until(page, lambda: any(f"/iiif/image/item-{item.pk}/" in url for url, _ in tiles[before:]), 30,
           "tiles of the original")  # fmt: skip
    page.get_by_role("button", name="Zoom in").click()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(ARTIFACTS / "deepzoom-original.png"), full_page=True)
    assert all(status == 200 for _, status in tiles), tiles
    assert not [p for p in problems if "Content Security Policy" in p or "openseadragon" in p.lower()], (
        problems
    )
