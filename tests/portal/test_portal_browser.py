"""Headless Chromium through the staff flow and the public gallery, against live_server and a real worker.

Screenshots go to test-artifacts/ (git-ignored) for people to look at.
"""

from __future__ import annotations

import time

import pytest
from django.core.files import File

from portal.jobs.models import ColorModel
from tests.support.browser import shot
from tests.support.media import make_photo

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_staff_flow_and_public_gallery(browser, live_server, live_worker, staff_user, tiny_model, tmp_path):
    with open(tiny_model, "rb") as f:
        model = ColorModel(name="tiny", is_default=True)
        model.checkpoint.save("tiny.pt", File(f), save=True)
    photo = make_photo(tmp_path / "harbour_1923.png", size=(320, 240))
    url = live_server.url

    staff = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    staff.goto(f"{url}/accounts/login/?next=/catalog/")
    shot(staff, "01-login")
    staff.fill("input[name=username]", "curator")
    staff.fill("input[name=password]", "pass-1234-word")
    staff.click("button[type=submit]")
    assert staff.url.endswith("/catalog/")

    staff.click("text=Upload")
    staff.set_input_files("input[name=files]", str(photo))
    staff.fill("input[name=place]", "Hamburg")
    staff.click("button:has-text('Upload')")
    assert "/catalog/items/" in staff.url
    staff.click("text=Edit metadata")
    staff.fill("input[name=title]", "Dock workers at the harbour")
    staff.fill("input[name=people]", "Anna Berg; Karl Berg")
    staff.fill("input[name=date]", "1923")
    staff.fill("input[name=year_from]", "1923")
    staff.fill("input[name=year_to]", "1923")
    staff.click("button:has-text('Save')")
    assert staff.locator("h1").inner_text() == "Dock workers at the harbour"

    staff.check("input[name=models]")
    staff.click("button:has-text('Request colorization')")
    assert "queued" in staff.locator(".messages").inner_text()
    shot(staff, "02-staff-request-queued")
    deadline = time.monotonic() + 180
    while not staff.locator("[data-action=approve]").count():  # the page polls and reloads when done
        assert time.monotonic() < deadline, (
            "the colorization did not finish:\n" + live_worker.log.read_text()[-3000:]
        )
        staff.wait_for_timeout(1000)
        if not staff.locator("[data-poll]").count():
            try:
                staff.reload()
            except pytest.importorskip("playwright.sync_api").Error:  # the page's own poll reloaded it
                staff.wait_for_load_state()
    assert "AI colorization" in staff.locator(".compare-grid").inner_text()
    shot(staff, "03-staff-compare")
    staff.click("[data-action=approve]")
    staff.click("[data-action=publish]")
    assert "is published" in staff.locator(".messages").inner_text()
    staff.click("text=Colorizations")
    shot(staff, "04-staff-requests")

    public = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    public.goto(f"{url}/")
    shot(public, "05-public-home")
    public.click("text=Dock workers at the harbour")
    label = public.locator("[data-ai-label]").inner_text()
    assert "AI colorization" in label and "tiny" in label
    assert public.locator("a:has-text('View the untouched original')").count() == 1
    public.locator(".compare-range").fill("25")
    assert public.locator("[data-compare]").evaluate("el => el.style.getPropertyValue('--pos')") == "25%"
    shot(public, "06-public-item-slider")
    href = public.locator("a:has-text('View the untouched original')").get_attribute("href")
    original = public.request.get(url + href)
    assert original.ok and original.body() == photo.read_bytes()

    public.goto(f"{url}/search/?person=Karl+Berg&year_from=1920&year_to=1925")
    assert "1 item" in public.locator(".result-count").inner_text()
    shot(public, "07-public-search")
    assert public.goto(f"{url}/catalog/").url.startswith(f"{url}/accounts/login/")
