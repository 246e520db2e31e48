"""Headless Chromium through the colour hint editor against live_server and a real worker: place three points
by clicking, colour them (picker and reference picture), move, delete, preview, submit; the result follows the
hints (XMP says so, it differs from the same model without hints) and its page shows the points. Then a stroke
and two points on a photograph of flat grey objects, whose result file keeps each colour inside its object, and
the whole editor from the keyboard alone (points, a stroke, a region, the colour strength).

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
from tests.support.browser import shot, sign_in
from tests.support.media import make_photo
from tests.support.models import hinted_checkpoint
from tests.support.services import wait_for

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


def test_place_preview_and_submit_three_hints(browser, live_server, live_worker, staff_user, tmp_path):
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

    errors = []
    page = sign_in(browser, live_server.url, "curator", f"/catalog/items/{item.pk}/", 1000, errors)
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
    assert "Preview ready (3 marks)" in page.locator("[data-hint-status]").inner_text()
    page.wait_for_function("() => document.querySelector('[data-hint-preview-image]').naturalWidth > 0")
    shot(page, "11-hints-editor-preview")

    page.click("button:has-text('Request colorization')")
    assert "queued with 3 colour hints" in page.locator(".messages").inner_text()
    hinted = _wait_done(ColorizationRequest.objects.get(item=item).pk, live_worker)
    assert hinted.options["hints"] == {"points": points} and hinted.provenance["colour_hints"] == 3
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
    shot(page, "12-hints-result")
    page.click("[data-action=reuse-hints]")
    page.locator("[data-hint-row='3']").wait_for()
    assert json.loads(page.locator("#id_hints").input_value())["points"] == points
    assert not errors, errors


# ---------------------------------------------------------------- strokes, regions, the keyboard
# A grey photograph of three flat objects on a mid-grey ground (rows and columns of the 320 x 240 picture).
OBJECTS = {"A": (40, 200, 20, 130, 70), "B": (30, 110, 180, 300, 215), "C": (140, 210, 180, 300, 100)}
RED, BLUE, GREEN = "#c0302a", "#2050c0", "#2a9a3a"


def _objects_photo(path):
    grey = np.full((240, 320), 150, np.uint8)
    for top, bottom, left, right, level in OBJECTS.values():
        grey[top:bottom, left:right] = level
    Image.fromarray(grey).save(path)
    return path


def _default_model() -> ColorModel:
    from colorization import checkpoint, zoo

    if not checkpoint.load(zoo.resolve_model("default"))["model_args"].get("hints"):
        pytest.skip("the bundled default model takes no colour hints (its model_args do not say hints: true)")
    return ColorModel.objects.create(name="default", zoo_name="default", is_default=True)


def _editor_page(browser, live_server, live_worker, item_pk):
    wait_for(
        lambda: Item.objects.get(pk=item_pk).preview, 120, what="the item's preview", log=live_worker.log
    )
    errors = []
    page = sign_in(browser, live_server.url, "curator", f"/catalog/items/{item_pk}/", 1000, errors)
    page.locator("[data-hint-photo]").wait_for()
    page.wait_for_function("() => document.querySelector('[data-hint-photo]').naturalWidth > 0")
    return page, errors


def _hue_takes(rgb: np.ndarray, color: str) -> np.ndarray:
    """Per pixel: whether it takes `color`'s hue (Lab chroma over 15, hue angle within 35 degrees of it)."""
    from colorization.color import rgb_to_lab
    from colorization.hints import _color, _lab_ab

    lab = rgb_to_lab(rgb.astype(np.float32) / 255)
    a, b = _lab_ab(_color(color, "test"))
    off = np.degrees(np.arctan2(lab[..., 2], lab[..., 1]) - np.arctan2(b, a))
    return (np.hypot(lab[..., 1], lab[..., 2]) > 15) & (np.abs((off + 180) % 360 - 180) < 35)


def test_a_stroke_and_two_points_keep_their_colours_inside_their_objects(
    browser,
    live_server,
    live_worker,
    staff_user,
    tmp_path,
):
    _default_model()
    photo = _objects_photo(tmp_path / "three_objects.png")
    with open(photo, "rb") as f:
        item = add_item(File(f, name=photo.name), user=staff_user, title="Three objects")
    page, errors = _editor_page(browser, live_server, live_worker, item.pk)
    photo_el = page.locator("[data-hint-photo]")
    photo_el.scroll_into_view_if_needed()
    box = photo_el.bounding_box()

    def at(x, y):  # picture pixels -> page coordinates
        return box["x"] + box["width"] * x / 320, box["y"] + box["height"] * y / 240

    # a stroke down object A: press, drag, release
    page.check("[data-hint-tool][value=stroke]")
    page.mouse.move(*at(40, 60))
    page.mouse.down()
    page.mouse.move(*at(75, 120), steps=8)
    page.mouse.move(*at(110, 180), steps=8)
    page.mouse.up()
    assert "Stroke 1 added" in page.locator("[data-hint-status]").inner_text()
    page.locator("[data-hint-row][data-hint-kind=stroke] [data-hint-color]").fill(RED)
    # a point on B and one on C, each its own colour
    page.check("[data-hint-tool][value=point]")
    photo_el.click(position={"x": box["width"] * 240 / 320, "y": box["height"] * 70 / 240})
    page.locator("[data-hint-row='1'] [data-hint-color]").fill(BLUE)
    photo_el.click(position={"x": box["width"] * 240 / 320, "y": box["height"] * 175 / 240})
    page.locator("[data-hint-row='2'] [data-hint-color]").fill(GREEN)
    assert page.locator("[data-hint-marker]").count() == 3 and page.locator("[data-hint-line]").count() == 1
    sent = json.loads(page.locator("#id_hints").input_value())
    assert [p["color"] for p in sent["points"]] == [BLUE, GREEN]
    (stroke,) = sent["strokes"]
    assert stroke["color"] == RED and stroke["closed"] is False and len(stroke["points"]) >= 3
    assert all(20 / 320 <= x <= 130 / 320 and 40 / 240 <= y <= 200 / 240 for x, y in stroke["points"])

    page.click("[data-hint-preview]")
    page.locator("[data-hint-preview-figure]").wait_for(state="visible", timeout=120_000)
    assert "Preview ready (3 marks)" in page.locator("[data-hint-status]").inner_text()
    page.wait_for_function("() => document.querySelector('[data-hint-preview-image]').naturalWidth > 0")
    shot(page, "13-hints-stroke-and-points")

    page.click("button:has-text('Request colorization')")
    assert "queued with 2 colour hints and 1 stroke" in page.locator(".messages").inner_text()
    req = _wait_done(ColorizationRequest.objects.get(item=item).pk, live_worker)
    assert req.options["hints"] == sent and req.provenance["colour_hint_strokes"] == 1
    rgb = np.asarray(Image.open(req.result.path).convert("RGB"))
    inside = {}
    for name, (top, bottom, left, right, _) in OBJECTS.items():
        inside[name] = np.zeros(rgb.shape[:2], bool)
        inside[name][top + 8 : bottom - 8, left + 8 : right - 8] = True  # away from the edges
    ground = np.ones(rgb.shape[:2], bool)
    for top, bottom, left, right, _ in OBJECTS.values():
        ground[top - 4 : bottom + 4, left - 4 : right + 4] = False
    for name, color in (("A", RED), ("B", BLUE), ("C", GREEN)):
        takes = _hue_takes(rgb, color)
        assert takes[inside[name]].mean() > 0.7, (name, color, takes[inside[name]].mean())
        for other in set(OBJECTS) - {name}:
            assert takes[inside[other]].mean() < 0.02, (color, "in", other, takes[inside[other]].mean())
        # the ground between the objects stays mostly grey: a little colour bleeds at the edges near a hint
        assert takes[ground].mean() < 0.2, (color, "on the ground", takes[ground].mean())
    assert not errors, errors


def test_the_editor_from_the_keyboard_alone(browser, live_server, live_worker, staff_user, tmp_path):
    _default_model()
    photo = _objects_photo(tmp_path / "three_objects.png")
    with open(photo, "rb") as f:
        item = add_item(File(f, name=photo.name), user=staff_user, title="Three objects")
    page, errors = _editor_page(browser, live_server, live_worker, item.pk)
    status = page.locator("[data-hint-status]")

    def sent():
        return json.loads(page.locator("#id_hints").input_value() or "{}")

    def press(*keys):
        for key in keys:
            page.keyboard.press(key)

    # Tab from the tool choice reaches the photograph; its focus and cursor are visible
    page.focus("[data-hint-tool][value=point]")
    press("Tab")
    assert page.evaluate("document.activeElement.hasAttribute('data-hint-stage')"), page.evaluate(
        "document.activeElement.outerHTML.slice(0, 200)"
    )
    assert page.locator("[data-hint-stage]").get_attribute("role") == "application"
    assert page.locator("[data-hint-stage]").get_attribute("aria-describedby") == "hints-keys"
    # a point at 75% across, 30% down (the cursor starts in the middle)
    press("Shift+ArrowRight", "Shift+ArrowRight", "Shift+ArrowRight", "Shift+ArrowRight", "Shift+ArrowRight")
    press("Shift+ArrowUp", "Shift+ArrowUp", "Shift+ArrowUp", "Shift+ArrowUp")
    assert page.locator("[data-hint-cursor]").is_visible()
    assert page.evaluate(
        "getComputedStyle(document.querySelector('[data-hint-stage]')).outlineStyle"
    ) not in ("none", "")
    press("Enter")
    assert "Point 1 added, 75% across, 30% down" in status.inner_text()
    assert sent()["points"] == [{"x": 0.75, "y": 0.3, "color": "#2f5a8a"}]
    # a stroke over object A: S, Enter at each corner, F
    press("s", "Shift+ArrowLeft", "Shift+ArrowLeft", "Shift+ArrowLeft", "Shift+ArrowLeft", "Shift+ArrowLeft")
    press("Shift+ArrowLeft", "Shift+ArrowLeft", "Shift+ArrowLeft", "Shift+ArrowLeft", "Enter")
    press("Shift+ArrowDown", "Shift+ArrowDown", "Shift+ArrowDown", "Shift+ArrowDown", "Enter")
    press("Shift+ArrowDown", "Shift+ArrowDown", "Shift+ArrowDown", "Enter", "f")
    assert "Stroke 2 added, 3 corners" in status.inner_text()
    assert sent()["strokes"] == [
        {"points": [[0.3, 0.3], [0.3, 0.5], [0.3, 0.65]], "color": "#2f5a8a", "closed": False}
    ]
    # a region around object C: R, four corners, F; a corner taken back with Backspace
    press(
        "r",
        "Shift+ArrowRight",
        "Shift+ArrowRight",
        "Shift+ArrowRight",
        "Shift+ArrowRight",
        "Shift+ArrowRight",
    )
    press("Shift+ArrowRight", "Shift+ArrowRight", "Shift+ArrowRight", "Shift+ArrowRight", "Shift+ArrowRight")
    press("Shift+ArrowDown", "Shift+ArrowDown", "Shift+ArrowDown", "Enter")  # (0.8, 0.8)
    press(
        "Shift+ArrowRight", "Shift+ArrowRight", "Enter", "Enter", "Backspace"
    )  # a doubled corner, taken back
    assert "Last corner taken back; 2 corners" in status.inner_text()
    press("Shift+ArrowDown", "Shift+ArrowDown", "Shift+ArrowDown", "Enter")
    press("Shift+ArrowLeft", "Shift+ArrowLeft", "Enter", "f")
    assert "Region 3 added, 4 corners" in status.inner_text()
    region = sent()["strokes"][1]
    assert region["closed"] is True and region["points"] == [[0.8, 0.8], [0.9, 0.8], [0.9, 0.95], [0.8, 0.95]]
    # a second point; N and Shift+N walk the marks back to it, Delete removes it
    press("p", "ArrowLeft", "Enter")
    assert len(sent()["points"]) == 2
    press("n", "n", "Shift+N", "Shift+N")
    assert "Point 2 selected" in status.inner_text()
    press("Delete")
    assert "Point 2 removed; 3 marks left" in status.inner_text() and len(sent()["points"]) == 1
    # the region's reach and colour from the table, the colour strength from the keyboard
    page.locator("[data-hint-row='3'] [data-hint-reach]").focus()
    page.keyboard.press("ArrowDown")  # a closed select: the next option
    assert page.locator("[data-hint-row='3'] [data-hint-reach]").input_value() == "region"
    page.focus("[data-hint-strength-on]")
    press("Space", "Tab", "ArrowRight", "ArrowRight")
    assert page.locator("[data-hint-strength-value]").inner_text().startswith("1.10")
    document = sent()
    assert document["strength"] == pytest.approx(1.1) and document["strokes"][1]["reach"] == "region"
    page.focus("[data-hint-stage]")
    press("ArrowRight")  # shows the cursor again for the picture
    shot(page, "14-hints-keyboard-stroke-region-points")

    page.focus("button:has-text('Request colorization')")
    press("Enter")
    page.locator(".messages").wait_for()
    assert (
        "queued with 1 colour hint, 1 stroke and 1 region, colour strength 1.1"
        in page.locator(".messages").inner_text()
    )
    req = _wait_done(ColorizationRequest.objects.get(item=item).pk, live_worker)
    assert req.options["hints"] == document and req.provenance["colour_strength"] == pytest.approx(1.1)
    page.goto(f"{live_server.url}{req.get_absolute_url()}")
    assert page.locator("[data-hint-points] [data-hint-stroke]").count() == 2
    shot(page, "15-hints-result-stroke-region")
    assert not errors, errors
