"""Headless Chromium over the staff pages that show model figures (promotion and its comparison, the training
run, the model list): each figure is named in words with its unit and which way is better, never by its stored
key such as `historical_psnr`.

Screenshots go to test-artifacts/ (git-ignored) for people to look at.
"""

from __future__ import annotations

import re

import pytest

from portal.jobs.models import ColorModel, Status, TrainingRun
from tests.support.browser import shot, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DEFAULT_FIGURES = {
    "historical_psnr": 22.72,
    "historical_ab_pearson": 0.27,
    "historical_colourfulness_ratio": 0.478,
    "test_psnr": 23.97,
    "test_mae": 12.8,
    "test_gray_psnr": 21.99,
}
SETS = {
    "test": {"name": "run #1 held-out frames", "images": 40},
    "historical": {"name": "historical_color", "images": 34},
}


def _models() -> tuple[ColorModel, ColorModel, TrainingRun]:
    default = ColorModel.objects.create(
        name="unet-v6", checkpoint="models/v6.pt", is_default=True, metrics=DEFAULT_FIGURES,
        info={"version": "6"},
    )  # fmt: skip
    figures = {"historical_psnr": 22.31, "historical_ab_pearson": 0.117, "historical_colourfulness_ratio": 0.46,
               "test_psnr": 24.1, "test_mae": 12.5, "test_gray_psnr": 21.99, "val_loss": 5.41, "val_pearson": 0.39}  # fmt: skip
    run = TrainingRun.objects.create(
        name="harbour-tuned", status=Status.DONE, metrics={**figures, "train_loss": 5.2},
        curve=[{"event": "epoch", "epoch": 1, "train_loss": 5.6, "val_loss": 5.5, "train_mae": 9.1, "val_mae": 9.3},
               {"event": "epoch", "epoch": 2, "train_loss": 5.2, "val_loss": 5.41, "train_mae": 8.8, "val_mae": 9.0}],
    )  # fmt: skip
    tuned = ColorModel.objects.create(
        name="harbour-tuned", checkpoint="models/t.pt", info={"version": "1"}, training_run=run,
        metrics={**figures, "sets": SETS,
                 "baseline": {"model": default.pk, "name": default.name, "sets": SETS, "figures": DEFAULT_FIGURES}},
    )  # fmt: skip
    run.result_model = tuned
    run.save()
    return default, tuned, run


def _visible_keys(page) -> list[str]:
    """The stored figure keys the page shows as text (they may stay in data- attributes)."""
    keys = {k for m in ColorModel.objects.all() for k in m.metrics} | {"train_loss", "train_mae", "val_mae"}
    text = page.locator("main").inner_text()
    return sorted(k for k in keys - {"sets", "baseline"} if re.search(rf"\b{k}\b", text))


def test_figures_read_in_words_with_units_and_direction(browser, live_server, admin_account):
    default, tuned, run = _models()
    admin = sign_in(browser, live_server.url, "director", f"/jobs/models/{tuned.pk}/promote/", height=1100)

    # promotion: label, unit and direction on each row; the warning names the worse figure in words
    psnr = admin.locator("[data-figure=historical_psnr]")
    assert "PSNR on historical photographs (dB)" in psnr.inner_text()
    assert psnr.locator("[data-better]").inner_text() == "higher"
    assert admin.locator("[data-figure=test_mae] [data-better]").inner_text() == "lower"
    gray = admin.locator("[data-figure=test_gray_psnr]")
    assert "not judged" in gray.locator("[data-better]").inner_text()
    assert "Historical photographs" in admin.locator("[data-set=historical]").inner_text()
    worse = admin.locator("[data-warning=worse]").inner_text()
    assert "Colour correlation on historical photographs" in worse, worse
    assert _visible_keys(admin) == [], _visible_keys(admin)
    shot(admin, "50-promote-figures-in-words")

    # the POST's refusal names them the same way
    admin.click("[data-action=promote]")
    assert "Colour correlation on historical photographs" in admin.locator(".messages").inner_text()
    assert ColorModel.objects.get(is_default=True) == default

    # the training run's figures and its charts' legends
    admin.goto(f"{live_server.url}/jobs/training/runs/{run.pk}/")
    metrics = admin.locator("[data-metrics]").inner_text()
    assert "Loss on validation frames" in metrics and "PSNR on held-out frames (dB)" in metrics, metrics
    assert _visible_keys(admin) == [], _visible_keys(admin)
    shot(admin, "51-run-figures-in-words")

    # the model list on the Training page
    admin.goto(f"{live_server.url}/jobs/training/")
    listed = admin.locator("tr[data-model=harbour-tuned] .metrics").inner_text()
    assert "PSNR on historical photographs (dB)" in listed, listed
    assert _visible_keys(admin) == [], _visible_keys(admin)
    shot(admin, "52-model-list-figures-in-words")
