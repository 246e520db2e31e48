"""Headless Chromium through a film's colour hint editor against live_server and a real worker: the editor starts
on the poster frame, a typed frame number brings that frame's still from the worker, a point is clicked on it,
another frame gets a point from the keyboard alone, the list of marked frames goes back, the preview colorizes
the frame shown, and the request is submitted with the keyframes document and keyframe propagation.

Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import pytest
from django.core.files import File

from portal.catalog.models import Item
from portal.jobs.models import ColorizationRequest, ColorModel
from tests.support import ARTIFACTS
from tests.support.browser import shot, sign_in
from tests.support.catalog import add_hint_film
from tests.support.models import hinted_checkpoint
from tests.support.services import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _frame_shown(page, frame: int) -> None:
    """Wait until the editor says the frame is shown and its picture has loaded."""
    page.wait_for_function(
        "n => document.querySelector('[data-hint-status]').textContent.startsWith('Frame ' + n + ' (')"
        " && document.querySelector('[data-hint-photo]').complete"
        " && document.querySelector('[data-hint-photo]').naturalWidth > 0",
        arg=frame,
        timeout=120_000,
    )


def test_mark_two_frames_of_a_film_and_submit(browser, live_server, live_worker, staff_user, tmp_path):
    with open(hinted_checkpoint(tmp_path / "hinted.pt"), "rb") as f:
        model = ColorModel(name="hinted", is_default=True)
        model.checkpoint.save("hinted.pt", File(f), save=True)
    item = add_hint_film(tmp_path / "harbour_1936.mp4", staff_user, title="Harbour, 1936")
    wait_for(lambda: Item.objects.get(pk=item.pk).preview, 120, what="the film's poster", log=live_worker.log)

    errors = []
    page = sign_in(browser, live_server.url, "curator", f"/catalog/items/{item.pk}/", 1000, errors)
    photo = page.locator("[data-hint-photo]")
    photo.wait_for()
    frame_input = page.locator("[data-hint-frame]")
    assert frame_input.input_value() == "2"  # the poster frame, 10 % in
    item = Item.objects.get(pk=item.pk)
    fps = item.frame_count / item.duration  # as the page has it (about 12)
    assert page.locator("[data-hint-timecode]").inner_text() == f"at 00:{2 / fps:05.2f}"

    # frame 12: typed, Enter; the worker sends its still; a point clicked on it
    frame_input.fill("12")
    frame_input.press("Enter")
    _frame_shown(page, 12)
    assert "-still.jpg" in photo.get_attribute("src")
    assert page.locator("[data-hint-timecode]").inner_text() == f"at 00:{12 / fps:05.2f}"
    box = photo.bounding_box()
    photo.click(position={"x": box["width"] * 0.25, "y": box["height"] * 0.75})
    assert page.locator("[data-hint-marker]").count() == 1
    page.locator("[data-hint-row='1'] [data-hint-color]").fill("#1030c0")
    assert page.locator("select[name=smoothing]").input_value() == "keyframes"

    # frame 20 from the keyboard alone: the frame number, Enter; the picture, the cursor (where the click left
    # it), Enter
    frame_input.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("20")
    page.keyboard.press("Enter")
    _frame_shown(page, 20)
    assert page.locator("[data-hint-marker]").count() == 0  # frame 20 has its own marks
    page.locator("[data-hint-stage]").focus()
    for key in ("ArrowRight", "ArrowRight", "ArrowUp", "Enter"):
        page.keyboard.press(key)
    assert page.locator("[data-hint-marker]").count() == 1
    assert "Point 1 added" in page.locator("[data-hint-status]").inner_text()
    frames = page.locator("[data-hint-goto]")
    assert [frames.nth(i).inner_text() for i in range(frames.count())] == ["12 (1)", "20 (1)"]
    assert page.locator("[data-hint-count]").inner_text() == "2 colour hints on 2 frames given."

    # back to frame 12 from the list (its button focused, Enter); the keys go on on the picture
    page.locator("[data-hint-goto='12']").focus()
    page.keyboard.press("Enter")
    _frame_shown(page, 12)
    assert page.locator("[data-hint-marker]").count() == 1
    assert page.evaluate("document.activeElement.hasAttribute('data-hint-stage')")
    page.click("[data-hint-preview]")
    page.wait_for_function(
        "() => document.querySelector('[data-hint-status]').textContent.startsWith('Preview ready of frame 12')",
        timeout=120_000,
    )
    page.wait_for_function("() => document.querySelector('[data-hint-preview-image]').naturalWidth > 0")
    page.locator("[data-hint-editor]").screenshot(path=str(_artifact("film-hint-editor")))
    shot(page, "film-hint-editor-page")

    page.click("[data-colorize-form] button[type=submit]")
    page.wait_for_selector(".messages")
    assert "with 2 colour hints on 2 frames" in page.locator(".messages").inner_text()
    req = ColorizationRequest.objects.get(item=item)
    assert req.options["smoothing"] == "keyframes"
    kept = req.options["hints"]["keyframes"]
    assert list(kept) == ["12", "20"]
    (first,), (second,) = kept["12"]["points"], kept["20"]["points"]
    assert first["color"] == "#1030c0" and (first["x"], first["y"]) == pytest.approx((0.25, 0.75), abs=0.01)
    # the cursor started where the click left it: two steps right, one up
    assert (second["x"] - first["x"], second["y"] - first["y"]) == pytest.approx((0.02, -0.01), abs=0.001)
    assert not errors, errors


def _artifact(name: str):

    return ARTIFACTS / f"{name}.png"
