"""Headless Chromium: the search page's facets narrow the results through the address, and the AI label's
sentence from the model card is on the public item page and on the staff approval screen.

Screenshots go to test-artifacts/ (git-ignored): search-facets.png, search-narrowed.png, model-card-*.png.
"""

from __future__ import annotations

import pytest

from colorization.model_cards import PLAIN
from portal.catalog.models import Collection
from portal.jobs.models import ColorModel
from tests.support import ARTIFACTS
from tests.support.catalog import add_item, add_result
from workers import tasks

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def shot(page, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_facets_narrow_the_search_and_the_label_says_what_the_model_is_good_at(
    browser,
    live_server,
    staff_user,
    tmp_path,
):
    model = ColorModel.objects.create(name="unet-v13", zoo_name="unet-v13", is_default=True)
    tasks.inspect_model(model.pk)
    harbour = Collection.objects.create(title="Harbour", slug="harbour")
    streets = Collection.objects.create(title="Streets", slug="streets")
    dock = add_item(tmp_path, "Dock cranes", collection=harbour, place="Hamburg", people="Anna Berg; Karl Maier",
                    subjects="cranes; ships", year_from=1923, year_to=1923, date="1923")  # fmt: skip
    add_item(tmp_path, "Ferry at the quay", collection=harbour, place="Hamburg", people="Anna Berg",
             subjects="ships", year_from=1931, year_to=1933)  # fmt: skip
    add_item(tmp_path, "Tram in Köln", film=True, collection=streets, place="Köln", subjects="trams",
             year_from=1928, year_to=1931)  # fmt: skip
    add_item(tmp_path, "Café terrace", collection=streets, place="Saint-Étienne", subjects="cafés; streets",
             year_from=1909, year_to=1909)  # fmt: skip
    req = add_result(tmp_path, dock, model, approved=False)
    url, sentence = live_server.url, PLAIN["unet-v13"]

    visitor = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    visitor.goto(f"{url}/search/")
    assert visitor.locator(".result-count").inner_text().startswith("4 items")
    shot(visitor, "search-facets")
    places = visitor.locator("[data-facet=place]")
    assert places.locator("li", has_text="Hamburg").locator(".facet-count").inner_text() == "2"
    places.locator("a", has_text="Hamburg").click()
    assert "place=%22Hamburg%22" in visitor.url  # the narrowed search has its own address
    assert visitor.locator(".result-count").inner_text().startswith("2 items")
    visitor.locator("[data-facet=decade] a", has_text="1930s").click()
    assert visitor.locator(".result-count").inner_text().startswith("1 item")
    assert visitor.locator(".grid").inner_text().count("Ferry at the quay") == 1
    shot(visitor, "search-narrowed")
    shared = browser.new_context().new_page()  # the address alone gives the same results
    shared.goto(visitor.url)
    assert shared.locator(".result-count").inner_text().startswith("1 item")
    visitor.locator("[data-chosen]", has_text="Place: Hamburg").click()
    assert visitor.locator(".result-count").inner_text().startswith("2 items")  # the 1930s alone: ferry, tram
    visitor.select_option("select[data-sort]", "title")
    visitor.locator("form.filters button.primary").click()
    assert "sort=title" in visitor.url

    staff = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    staff.goto(f"{url}/accounts/login/?next=/catalog/items/{dock.pk}/")
    staff.fill("input[name=username]", "curator")
    staff.fill("input[name=password]", "pass-1234-word")
    staff.click("button[type=submit]")
    card = staff.locator(f"[data-result='{req.pk}'] [data-model-card]")
    assert card.inner_text() == sentence
    shot(staff, "model-card-approval")
    staff.click("[data-action=approve]")

    visitor.goto(f"{url}/items/{dock.pk}/")
    assert visitor.locator("[data-ai-label] [data-model-card]").inner_text() == sentence
    shot(visitor, "model-card-public")
