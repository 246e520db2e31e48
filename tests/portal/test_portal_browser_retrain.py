"""Headless Chromium through retraining, against live_server and a real worker: an admin adds training photographs,
retrains (a real, tiny fine-tuning run), compares the new model with the default on the figures of one test set and
on a catalogue photograph colorized by both, promotes it, then rolls back to the previous default.

Screenshots go to test-artifacts/ (git-ignored) for people to look at.
"""

from __future__ import annotations

import re
import shutil

import pytest
from django.conf import settings
from django.core.files import File
from django.test import Client
from django.urls import reverse

from portal.catalog.ingest import add_item
from portal.catalog.models import Item
from portal.jobs.figures import describe
from portal.jobs.models import ColorizationRequest, ColorModel, Status, TrainingRun
from tests.support.browser import shot, sign_in
from tests.support.media import make_photo
from tests.support.services import wait_for
from tests.support.training_runs import HINT_DEFAULT, TINY, colour_photos

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _default_model(admin_account, tmp_path, log) -> ColorModel:
    """A tiny hint-taking default, registered as an admin's upload is and inspected by the worker."""
    from colorization import checkpoint
    from colorization.models import UNet, UNetConfig

    path = checkpoint.save(
        tmp_path / "tiny-default.pt", UNet(UNetConfig(**HINT_DEFAULT)), name="tiny-default",
        train_config={"loss": "bins", "head": "bins", "hints": True, "lr": 1e-3},
    )  # fmt: skip
    client = Client()
    client.force_login(admin_account)
    with open(path, "rb") as f:
        client.post(reverse("jobs:training"), {"form": "model", "model-name": "tiny-default",
                                               "model-checkpoint": f, "model-make_default": "on"})  # fmt: skip
    return wait_for(
        lambda: ColorModel.objects.filter(name="tiny-default", is_default=True).exclude(info={}).first(),
        120, what="the default to be inspected", log=log,
    )  # fmt: skip


def _preselected(page, url: str, item: Item) -> list[str]:
    """The models ticked on the item's request form: what a new colorization request uses unless changed."""
    page.goto(f"{url}/catalog/items/{item.pk}/")
    ticked = page.locator("input[name=models]:checked")
    ids = [ticked.nth(i).get_attribute("value") for i in range(ticked.count())]
    return [ColorModel.objects.get(pk=pk).name for pk in ids]


def _default() -> str:
    return ColorModel.objects.get(is_default=True).name


def test_retrain_compare_promote_and_roll_back(browser, live_server, live_worker, admin_account, tmp_path):  # noqa: F811
    log, url = live_worker.log, live_server.url
    default = _default_model(admin_account, tmp_path, log)
    with open(make_photo(tmp_path / "harbour_1923.png", size=(96, 72)), "rb") as f:
        harbour = add_item(File(f, name="harbour_1923.png"), title="Harbour 1923")  # previews on commit
    wait_for(lambda: Item.objects.get(pk=harbour.pk).preview, 120, what="the item's preview", log=log)
    historical = settings.HISTORICAL_PHOTOS  # the worker's too: both models are scored on these
    colour_photos(historical, 2, seed=5)
    admin = sign_in(browser, url, "director", "/jobs/training/")
    try:
        # Training: add the colour photographs, then retrain with the form's default start (the default)
        admin.set_input_files(
            "input[name=source-files]", [str(p) for p in colour_photos(tmp_path / "new", 12, seed=7)]
        )
        admin.click("form:has(input[name=form][value=source]) button[type=submit]")
        assert "12 training films or photographs added." in admin.locator(".messages").inner_text()
        assert (
            admin.locator("[data-note=material]")
            .inner_text()
            .endswith("Now: 12 training films or photographs.")
        )
        assert admin.locator("input[name=train-start][value=default]").is_checked()
        admin.fill("input[name=train-name]", "harbour-tuned")
        admin.fill("input[name=train-epochs]", "1")
        admin.fill("textarea[name=train-extra]", TINY)
        shot(admin, "40-retrain-form")
        admin.click("form:has(input[name=form][value=train]) button[type=submit]")
        run = TrainingRun.objects.get()
        assert admin.url.endswith(f"/jobs/training/runs/{run.pk}/")
        assert f"Training run #{run.pk} queued." in admin.locator(".messages").inner_text()
        assert run.start_from == default and _default() == "tiny-default"
        shot(admin, "41-run-queued")

        def ended():
            row = TrainingRun.objects.get(pk=run.pk)
            return row if row.status not in (Status.PENDING, Status.RUNNING) else None

        run = wait_for(ended, 600, interval=2, what="the training run", log=log)
    finally:
        shutil.rmtree(historical, ignore_errors=True)
    assert run.status == Status.DONE, run.error + "\n" + run.log
    model = run.result_model
    assert model.name == "harbour-tuned" and not model.is_default and _default() == "tiny-default"
    admin.reload()
    assert "Done" in admin.locator(".page-head").inner_text()
    assert "Starts from tiny-default" in admin.locator("[data-note=fine-tune]").inner_text()
    shot(admin, "42-run-done")

    # Compare: the figures of both models on one test set, then a catalogue photograph by both
    admin.click("[data-action=promote]")
    assert admin.locator("h1").inner_text() == "Make harbour-tuned the default?"
    held_out = f"run #{run.pk} held-out frames"
    for name, where in (("test", held_out), ("historical", "historical_color, 2 images")):
        row = admin.locator(f"[data-set={name}]")
        assert row.get_attribute("data-same") == "yes"
        mine, theirs = (row.locator(f"[data-side={side}]").inner_text() for side in ("candidate", "default"))
        assert mine == theirs and mine.startswith(where), (mine, theirs)
    assert admin.locator("[data-note=not-judged]").count() == 0
    assert admin.locator("[data-missing=historical]").count() == 0  # the run measured both models on them
    baseline = model.metrics["baseline"]
    assert baseline["model"] == default.pk and baseline["sets"] == model.metrics["sets"]
    psnr = admin.locator("[data-figure=test_psnr]")
    assert f"{model.metrics['test_psnr']:.4f}" in psnr.inner_text()
    assert f"{baseline['figures']['test_psnr']:.4f}" in psnr.inner_text()
    assert psnr.get_attribute("data-verdict") in ("better", "worse", "same")
    worse = [
        admin.locator("[data-verdict=worse]").nth(i).get_attribute("data-figure")
        for i in range(admin.locator("[data-verdict=worse]").count())
    ]
    assert admin.locator("[data-sheet]").count() == 0
    admin.click("[data-action=compare]")
    assert "2 colorizations queued for the compare sheet." in admin.locator(".messages").inner_text()
    wait_for(
        lambda: ColorizationRequest.objects.filter(item=harbour, status=Status.DONE).count() == 2,
        300, what="the compare sheet's colorizations", log=log,
    )  # fmt: skip
    admin.reload()
    sheet = admin.locator("[data-sheet]")
    assert sheet.locator("figure").count() == 3  # the original, the default's, the candidate's
    assert "Harbour 1923 by tiny-default" in sheet.inner_html()
    assert "Harbour 1923 by harbour-tuned" in sheet.inner_html()
    shot(admin, "43-promote-comparison")

    # Promote: the new model becomes the default that new requests get
    if worse:  # a one-epoch model may score worse on some figure: the page asks for a confirmation first
        assert (
            "; ".join(describe(k).label for k in worse) in admin.locator("[data-warning=worse]").inner_text()
        )
        admin.click("[data-action=promote]")
        assert "tick the confirmation" in admin.locator(".messages").inner_text()
        assert _default() == "tiny-default"
        admin.check("[data-confirm]")
    admin.click("[data-action=promote]")
    assert admin.url.endswith("/jobs/training/")
    assert (
        "harbour-tuned is now the default model for new requests. Roll back to tiny-default"
        in admin.locator(".messages").inner_text()
    )
    model.refresh_from_db()
    assert model.is_default and model.promoted_from == default and model.promoted_at
    assert list(ColorModel.objects.filter(is_default=True)) == [model]
    assert "Default" in admin.locator("tr[data-model=harbour-tuned]").inner_text()
    shot(admin, "44-promoted")
    assert _preselected(admin, url, harbour) == ["harbour-tuned"]

    # Roll back: the previous default again, in one step from the Training page
    admin.goto(f"{url}/jobs/training/")
    admin.click("tr[data-model=harbour-tuned] [data-action=roll-back]")
    assert (
        "tiny-default is the default again (instead of harbour-tuned)."
        in admin.locator(".messages").inner_text()
    )
    assert list(ColorModel.objects.filter(is_default=True)) == [default]
    assert "Default" in admin.locator("tr[data-model=tiny-default]").inner_text()
    assert "Default" not in admin.locator("tr[data-model=harbour-tuned]").inner_text()
    changes = admin.locator("[data-promotions]").inner_text()
    assert re.search(r"harbour-tuned became the default \(director\)", changes)
    assert re.search(r"tiny-default became the default", changes)
    shot(admin, "45-rolled-back")
    assert _preselected(admin, url, harbour) == ["tiny-default"]
