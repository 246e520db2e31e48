"""Headless Chromium through the colour hint editor against live_server and a real worker: place three points
by clicking, colour them (picker and reference picture), move, delete, preview, submit; the result follows the
hints (XMP says so, it differs from the same model without hints) and its page shows the points.

Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from django.core.files import File
from PIL import Image

from portal.catalog.ingest import add_item
from portal.catalog.models import Item
from portal.jobs import services
from portal.jobs.models import ColorizationRequest, ColorModel, Status
from tests.conftest import make_photo, wait_for
from tests.portal.test_portal_browser import _shot, browser  # noqa: F401  (the fixture)
from tests.portal.test_portal_hints import hinted_checkpoint

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _wait_done(req_pk: int, worker) -> ColorizationRequest:
    def finished():
        req = ColorizationRequest.objects.get(pk=req_pk)
        return req if req.status not in (Status.PENDING, Status.RUNNING) else None

    req = wait_for(finished, 240, what=f"request {req_pk}", log=worker.log)
    assert req.status == Status.DONE, req.error
    return req


def _xmp_description(path) -> str:
    out = subprocess.run(["exiftool", "-j", "-XMP-dc:Description", str(path)], capture_output=True, text=True)
    return json.loads(out.stdout)[0].get("Description", "")


def test_place_preview_and_submit_three_hints(browser, live_server, live_worker, staff_user, tmp_path):  # noqa: F811
    checkpoint = hinted_checkpoint(tmp_path / "hinted.pt")
    with open(checkpoint, "rb") as f:
        model = ColorModel(name="hinted", is_default=True)
        model.checkpoint.save("hinted.pt", File(f), save=True)
    photo = make_photo(tmp_path / "church_1931.png", size=(320, 240))
    with open(photo, "rb") as f:
        item = add_item(File(f, name=photo.name), user=staff_user, title="Church in the square")
    wait_for(
        lambda: Item.objects.get(pk=item.pk).preview, 120, what="the item's preview", log=live_worker.log
    )
    reference = tmp_path / "fabric.png"
    Image.new("RGB", (40, 30), (200, 30, 30)).save(reference)

    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/accounts/login/?next=/catalog/items/{item.pk}/")
    page.fill("input[name=username]", "curator")
    page.fill("input[name=password]", "pass-1234-word")
    page.click("button[type=submit]")
    photo_el = page.locator("[data-hint-photo]")
    photo_el.wait_for()
    page.wait_for_function("() => document.querySelector('[data-hint-photo]').naturalWidth > 0")
    box = photo_el.bounding_box()

    # three points by clicking the photograph; the status line (aria-live) says what happened
    for fx, fy in ((0.2, 0.3), (0.5, 0.5), (0.8, 0.7)):
        photo_el.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
    assert page.locator("[data-hint-marker]").count() == 3
    assert page.locator("[data-hint-row]").count() == 3
    assert "Point 3 added" in page.locator("[data-hint-status]").inner_text()
    assert page.locator("[data-hint-status]").get_attribute("aria-live") == "polite"
    # colour of point 1 from the picker in the table; point 3 from a spot of a reference picture
    page.locator("[data-hint-row='1'] [data-hint-color]").fill("#1f4fd0")
    page.set_input_files("[data-hint-reference-file]", str(reference))
    page.locator("[data-hint-reference]").wait_for(state="visible")
    page.locator("[data-hint-row='3'] [data-hint-x]").focus()  # selects point 3
    page.locator("[data-hint-reference]").click(position={"x": 10, "y": 10})
    assert page.locator("[data-hint-row='3'] [data-hint-color]").input_value() == "#c81e1e"
    # x and y edited in the table, a marker moved with the keyboard and by dragging
    page.locator("[data-hint-row='2'] [data-hint-y]").fill("40")
    page.locator("[data-hint-row='2'] [data-hint-y]").press("Tab")
    page.locator("[data-hint-marker='1']").focus()
    page.keyboard.press("ArrowRight")
    assert float(page.locator("[data-hint-row='1'] [data-hint-x]").input_value()) == pytest.approx(
        21, abs=0.3
    )
    marker = page.locator("[data-hint-marker='2']").bounding_box()
    box = photo_el.bounding_box()  # where it is now (the page may have scrolled)
    page.mouse.move(marker["x"] + marker["width"] / 2, marker["y"] + marker["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.45, steps=5)
    page.mouse.up()
    assert float(page.locator("[data-hint-row='2'] [data-hint-x]").input_value()) == pytest.approx(
        55, abs=1.5
    )
    assert "Point 2 moved" in page.locator("[data-hint-status]").inner_text()
    # a fourth point, deleted again with the Delete key
    photo_el.click(position={"x": box["width"] * 0.1, "y": box["height"] * 0.9})
    page.locator("[data-hint-marker='4']").focus()
    page.keyboard.press("Delete")
    assert page.locator("[data-hint-marker]").count() == 3
    assert "Point 4 removed" in page.locator("[data-hint-status]").inner_text()
    points = json.loads(page.locator("#id_hints").input_value())["points"]
    assert [p["color"] for p in points] == ["#1f4fd0", points[1]["color"], "#c81e1e"]
    assert points[1]["y"] == pytest.approx(0.45, abs=0.015) and points[0]["x"] == pytest.approx(
        0.21, abs=0.003
    )

    # the quick preview, made by the worker
    page.click("[data-hint-preview]")
    page.locator("[data-hint-preview-figure]").wait_for(state="visible", timeout=120_000)
    assert "Preview ready (3 points)" in page.locator("[data-hint-status]").inner_text()
    page.wait_for_function("() => document.querySelector('[data-hint-preview-image]').naturalWidth > 0")
    _shot(page, "11-hints-editor-preview")

    page.click("button:has-text('Request colorization')")
    assert "queued with 3 colour hints" in page.locator(".messages").inner_text()
    hinted = _wait_done(ColorizationRequest.objects.get(item=item).pk, live_worker)
    assert hinted.options["hints"] == points and hinted.provenance["colour_hints"] == 3
    result = hinted.result.path
    if subprocess.run(["which", "exiftool"], capture_output=True).returncode == 0:
        assert "Staff gave 3 colour hints" in _xmp_description(result)

    # the same model without hints gives another picture
    plain = _wait_done(services.submit(staff_user, item, [model])[0].pk, live_worker)
    assert not np.array_equal(np.asarray(Image.open(result)), np.asarray(Image.open(plain.result.path)))

    # the result's page shows the points; a new request starts from them
    page.goto(f"{live_server.url}{hinted.get_absolute_url()}")
    assert page.locator("[data-hint-points] [data-hint-point]").count() == 3
    assert page.locator("[data-hint-points] [data-hint-row]").count() == 3
    assert "#1f4fd0" in page.locator("[data-hint-points] table").inner_text()
    _shot(page, "12-hints-result")
    page.click("[data-action=reuse-hints]")
    page.locator("[data-hint-row='3']").wait_for()
    assert json.loads(page.locator("#id_hints").input_value())["points"] == points
    assert not errors, errors
