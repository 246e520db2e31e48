"""Headless Chromium through the staff and admin workflow, against live_server and a real worker: bulk actions in
the catalogue, cancelling a training run, and promoting a model with its comparison, confirmation and rollback.

Screenshots go to test-artifacts/ (git-ignored) for people to look at.
"""

from __future__ import annotations

import time

import pytest
from django.test import Client

from portal.catalog.models import Collection, Item
from portal.jobs.models import BulkAction, ColorModel, Status, TrainingRun
from tests.support.browser import shot, sign_in
from tests.support.catalog import stub_item, stub_result
from tests.support.services import wait_for
from tests.support.training_runs import add_training_images, is_training, start_long_run
from workers.training_runs import run_dir

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _until_done(page, what: str, timeout: float = 120) -> None:
    """The bulk page refreshes itself while the action runs; wait until it shows the end."""
    deadline = time.monotonic() + timeout
    while page.locator("[data-status]").inner_text() in ("Waiting", "Running"):
        assert time.monotonic() < deadline, f"{what} did not finish"
        page.wait_for_timeout(1000)
        page.reload()


def test_bulk_actions_by_hand_and_by_filter(browser, live_server, live_worker, staff_user):
    harbour = Collection.objects.create(title="Harbour", slug="harbour")
    dock, ferry, market = (
        stub_item(t, Item.Status.DRAFT) for t in ("Harbour dock", "Harbour ferry", "Market day")
    )
    staff = sign_in(browser, live_server.url, "curator", "/catalog/")

    staff.check(f"input[name=items][value='{dock.pk}']")
    staff.check(f"input[name=items][value='{market.pk}']")
    staff.select_option("select[name=action]", "publish")
    shot(staff, "20-bulk-ticked")
    staff.click("[data-action=bulk]")
    assert "Publish: 2 item(s), under way." in staff.locator(".messages").inner_text()
    _until_done(staff, "the bulk publish")
    assert staff.locator("[data-status]").inner_text() == "Done"
    assert staff.locator("[data-changed]").inner_text() == "2"
    shot(staff, "21-bulk-done")
    assert set(Item.objects.published().values_list("title", flat=True)) == {"Harbour dock", "Market day"}

    staff.goto(f"{live_server.url}/catalog/?q=harbour")
    staff.select_option("select[name=action]", "collect")
    staff.check("input[name=everything]")
    staff.select_option("select[name=collection]", str(harbour.pk))
    staff.click("[data-action=bulk]")
    _until_done(staff, "adding to the collection")
    assert set(harbour.items.values_list("pk", flat=True)) == {dock.pk, ferry.pk}
    action = BulkAction.objects.get(action="collect")
    assert action.status == Status.DONE and sorted(action.items) == sorted([dock.pk, ferry.pk])


def test_cancel_a_training_run_from_its_page(browser, live_server, live_worker, admin_account, tmp_path):
    client = Client()
    client.force_login(admin_account)
    add_training_images(client, tmp_path)
    run = start_long_run(client, "cancel-in-browser")
    wait_for(lambda: is_training(run.pk), 300, what="the run to be training", log=live_worker.log)

    admin = sign_in(browser, live_server.url, "director", f"/jobs/training/runs/{run.pk}/")
    shot(admin, "22-run-training")
    admin.click("[data-action=cancel]")
    assert "cancelled; its worker stops within seconds" in admin.locator(".messages").inner_text()
    assert admin.locator("[data-action=cancel]").count() == 0
    wait_for(
        lambda: f"TrainingRun {run.pk} stopped" in live_worker.log.read_text(), 120,
        what="fit to stop", log=live_worker.log,
    )  # fmt: skip
    run.refresh_from_db()
    assert run.status == Status.CANCELLED and not run_dir(run.pk).exists()
    admin.reload()
    assert "Cancelled" in admin.locator(".page-head").inner_text()
    shot(admin, "23-run-cancelled")
    assert TrainingRun.objects.get(pk=run.pk).result_model is None


def test_promote_with_comparison_confirmation_and_rollback(browser, live_server, admin_account):
    figures = {"test_psnr": 23.97, "test_ab_pearson": 0.234, "test_ssim": 0.946}
    default = ColorModel.objects.create(
        name="unet-v6", checkpoint="models/v6.pt", is_default=True, metrics=figures,
        info={"version": "6", "model_args": {"hints": True}},
    )  # fmt: skip
    held_out = {
        "test": {"name": "run #1 held-out frames", "images": 40}
    }  # the default scored on the run's set
    weak = ColorModel.objects.create(
        name="two-epochs", checkpoint="models/w.pt", info={"version": "1", "model_args": {"hints": False}},
        metrics={"test_psnr": 24.1, "test_ab_pearson": 0.074, "test_ssim": 0.946, "sets": held_out,
                 "baseline": {"model": default.pk, "name": "unet-v6", "sets": held_out, "figures": figures}},
    )  # fmt: skip
    item = stub_item("Harbour", Item.Status.DRAFT)
    stub_result(item, default, False), stub_result(item, weak, False)

    admin = sign_in(browser, live_server.url, "director", "/jobs/training/")
    admin.click("tr[data-model='two-epochs'] [data-action=promote]")
    assert admin.locator("h1").inner_text() == "Make two-epochs the default?"
    assert admin.locator("[data-figure=test_ab_pearson]").get_attribute("data-verdict") == "worse"
    assert admin.locator("[data-figure=test_psnr]").get_attribute("data-verdict") == "better"
    assert "0.0740" in admin.locator("[data-figure=test_ab_pearson]").inner_text()
    assert "0.2340" in admin.locator("[data-figure=test_ab_pearson]").inner_text()
    held = admin.locator("[data-set=test]")
    assert held.locator("[data-side=candidate]").inner_text() == "run #1 held-out frames, 40 images"
    assert held.locator("[data-side=default]").inner_text() == "run #1 held-out frames, 40 images"
    assert admin.locator("[data-sheet] figure").count() == 3  # the original, the default's, the candidate's
    shot(admin, "24-promote-comparison")

    admin.click("[data-action=promote]")  # without either confirmation: it would drop hint support
    assert "takes no colour hints and unet-v6 does" in admin.locator(".messages").inner_text()
    admin.check("[data-confirm-hints]")
    admin.click("[data-action=promote]")  # hints confirmed, the worse figure not
    assert "tick the confirmation" in admin.locator(".messages").inner_text()
    assert ColorModel.objects.get(is_default=True) == default

    admin.check("[data-confirm-hints]")
    admin.check("[data-confirm]")
    admin.click("[data-action=promote]")
    assert "two-epochs is now the default" in admin.locator(".messages").inner_text()
    assert ColorModel.objects.get(is_default=True) == weak
    shot(admin, "25-promoted")

    admin.click("[data-action=roll-back]")
    assert "unet-v6 is the default again (instead of two-epochs)" in admin.locator(".messages").inner_text()
    assert ColorModel.objects.get(is_default=True) == default
    assert "unet-v6 became the default (director)" in admin.locator("[data-promotions]").inner_text()
    shot(admin, "26-rolled-back")


def test_move_an_item_to_the_trash_and_restore_it(browser, live_server, staff_user):
    from portal.catalog.models import TrashEntry

    dock = stub_item("Harbour dock", Item.Status.PUBLISHED)
    staff = sign_in(browser, live_server.url, "curator", f"/catalog/items/{dock.pk}/")
    staff.click("[data-action=trash]")
    assert "Move “Harbour dock” to the Trash?" in staff.locator("h1").inner_text()
    shot(staff, "30-trash-confirm")
    staff.click("button[data-action=trash]")
    assert "was moved to the Trash" in staff.locator(".messages").inner_text()
    assert staff.locator(".page-head .meta").inner_text().startswith("0 items")  # the catalogue, without it
    assert not Item.objects.filter(pk=dock.pk).exists()
    assert browser.new_page().goto(f"{live_server.url}/items/{dock.pk}/").status == 404

    staff.click(".page-head a[href='/catalog/trash/']")
    entry = staff.locator("[data-trash-entry]")
    assert "Harbour dock" in entry.inner_text() and "curator" in entry.inner_text()
    assert staff.locator("[data-action=purge]").count() == 0  # only admins purge by hand
    shot(staff, "31-trash-list")
    staff.click("[data-action=restore]")
    assert staff.url.endswith(f"/catalog/items/{dock.pk}/")
    assert f"Restored Item {dock.pk}: Harbour dock." in staff.locator(".messages").inner_text()
    assert TrashEntry.objects.get().state == "restored"
    assert browser.new_page().goto(f"{live_server.url}/items/{dock.pk}/").status == 200
