"""Promotion: the candidate's figures beside the default's, confirmation when any is worse, a compare sheet of
catalogue photographs, and a one-step rollback to the previous default."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.catalog.models import Item
from portal.jobs.models import ColorizationRequest, ColorModel
from tests.support.catalog import stub_item, stub_result

pytestmark = pytest.mark.django_db

DEFAULT_FIGURES = {"test_psnr": 23.97, "test_ab_pearson": 0.234, "test_mae": 12.8, "test_gray_psnr": 21.99}
HELD_OUT = {"test": {"name": "run #1 held-out frames", "images": 40}}


def _scored_with(default: ColorModel, figures: dict, sets: dict = HELD_OUT, **default_figures) -> dict:
    """A trained model's metrics: its figures, its sets and the default scored on them (workers.training_runs)."""
    baseline = {"model": default.pk, "name": default.name, "sets": sets,
                "figures": {**DEFAULT_FIGURES, **default_figures}}  # fmt: skip
    return {**figures, "sets": sets, "baseline": baseline}


@pytest.fixture
def models(db):
    default = ColorModel.objects.create(
        name="unet-v6",
        checkpoint="models/v6.pt",
        is_default=True,
        metrics=DEFAULT_FIGURES,
        info={"version": "6"},
    )
    figures = {"test_psnr": 24.1, "test_ab_pearson": 0.074, "test_mae": 12.8, "test_gray_psnr": 22.5}
    weak = ColorModel.objects.create(  # the 2-epoch model: better PSNR, far worse correlation
        name="two-epochs", checkpoint="models/w.pt", info={"version": "1"}, metrics=_scored_with(default, figures),
    )  # fmt: skip
    return default, weak


def test_the_comparison_shows_both_models_figures_and_which_are_worse(admin_client, models):
    default, weak = models
    page = admin_client.get(reverse("jobs:promote", args=[weak.pk])).content.decode()
    row = page[page.index('data-figure="test_ab_pearson"') :].split("</tr>")[0]
    assert 'data-verdict="worse"' in row and "0.0740" in row and "0.2340" in row
    assert 'data-verdict="better"' in page[page.index('data-figure="test_psnr"') :].split("</tr>")[0]
    assert 'data-verdict="same"' in page[page.index('data-figure="test_mae"') :].split("</tr>")[0]
    gray = page[page.index('data-figure="test_gray_psnr"') :].split("</tr>")[0]
    assert 'data-verdict=""' in gray  # a baseline is shown, not judged
    assert (
        "two-epochs is worse than unet-v6 on 1 figure: Colour correlation on held-out frames (-1 to 1)."
        in page
    )
    assert 'name="confirm"' in page


def test_a_worse_model_needs_confirmation_then_rolls_back_in_one_step(admin_client, models):
    default, weak = models
    response = admin_client.post(reverse("jobs:promote", args=[weak.pk]), follow=True)
    assert "Look at the comparison, then tick the confirmation" in response.content.decode()
    assert ColorModel.objects.get(is_default=True) == default

    response = admin_client.post(reverse("jobs:promote", args=[weak.pk]), {"confirm": "1"}, follow=True)
    assert "two-epochs is now the default" in response.content.decode()
    weak.refresh_from_db()
    assert weak.is_default and weak.promoted_from == default and weak.promoted_at
    page = admin_client.get(reverse("jobs:training")).content.decode()
    assert "Roll back to unet-v6" in page

    response = admin_client.post(reverse("jobs:roll_back"), follow=True)
    assert "unet-v6 is the default again (instead of two-epochs)" in response.content.decode()
    assert list(ColorModel.objects.filter(is_default=True)) == [default]


def test_a_model_no_worse_on_any_figure_is_promoted_at_once(admin_client, models):
    default, _ = models
    better = ColorModel.objects.create(
        name="better", checkpoint="models/b.pt", metrics={"test_psnr": 24.5, "test_ab_pearson": 0.3}
    )
    page = admin_client.get(reverse("jobs:promote", args=[better.pk])).content.decode()
    assert 'name="confirm"' not in page
    admin_client.post(reverse("jobs:promote", args=[better.pk]))
    assert ColorModel.objects.get(is_default=True) == better


def test_roll_back_without_a_previous_default_says_so(admin_client, models):
    response = admin_client.post(reverse("jobs:roll_back"), follow=True)
    assert "unet-v6 did not replace another default; there is nothing to roll back to." in (
        response.content.decode()
    )


def test_the_compare_sheet_shows_catalogue_photos_by_both_models_and_queues_the_missing_ones(
    admin_client, models, django_capture_on_commit_callbacks
):
    default, weak = models
    both = stub_item("Harbour", Item.Status.DRAFT)
    stub_result(both, default, False), stub_result(both, weak, False)
    only_default = stub_item("Quay", Item.Status.DRAFT)
    stub_result(only_default, default, False)
    page = admin_client.get(reverse("jobs:promote", args=[weak.pk])).content.decode()
    sheet = page[page.index("data-sheet") :].split("</div>")[0]
    assert "Original: Harbour" in sheet and "Harbour by unet-v6" in sheet and "Harbour by two-epochs" in sheet
    assert "Quay" not in sheet
    assert "Colorize 1 recent catalogue photograph with both models" in page

    with django_capture_on_commit_callbacks(execute=False):
        admin_client.post(reverse("jobs:compare", args=[weak.pk]))
    queued = ColorizationRequest.objects.filter(item=only_default, model=weak)
    assert queued.count() == 1 and ColorizationRequest.objects.filter(item=both).count() == 2


def test_the_historical_figures_come_first_and_a_model_without_them_is_named_with_how_to_get_them(
    admin_client, models
):
    default, weak = models
    page = admin_client.get(reverse("jobs:promote", args=[weak.pk])).content.decode()
    note = page[page.index('data-missing="historical"') :].split("</p>")[0]
    assert "two-epochs and unet-v6 have no figures on the historical photographs" in note
    assert "colorize-train eval-historical FOLDER --model FILE --record" in note

    # figures as `eval-historical --record` stores them and an inspection reads them (zoo.headline_metrics)
    historical = {"historical_psnr": 22.72, "historical_ssim": 0.9406, "historical_colourfulness_ratio": 0.478,
                  "historical_ab_pearson": 0.27}  # fmt: skip
    default.metrics = {**DEFAULT_FIGURES, **historical}
    default.save()
    mine = {"historical_psnr": 22.31, "historical_ssim": 0.9391, "historical_colourfulness_ratio": 0.46,
            "historical_ab_pearson": 0.117}  # fmt: skip
    sets = {**HELD_OUT, "historical": {"name": "historical_color", "images": 34}}
    weak.metrics = _scored_with(default, {**weak.metrics, **mine}, sets, **historical)
    weak.save()
    page = admin_client.get(reverse("jobs:promote", args=[weak.pk])).content.decode()
    assert 'data-missing="historical"' not in page
    rows = [page.index(f'data-figure="{name}"') for name in ColorModel.HEADLINE_METRICS[:5]]
    assert rows == sorted(rows)  # the four historical figures first, then the test split's
    pearson = page[page.index('data-figure="historical_ab_pearson"') :].split("</tr>")[0]
    assert 'data-verdict="worse"' in pearson and "0.1170" in pearson and "0.2700" in pearson
    ratio = page[page.index('data-figure="historical_colourfulness_ratio"') :].split("</tr>")[0]
    assert 'data-verdict=""' in ratio  # colourfulness is shown, not judged
    assert "worse than unet-v6 on 4 figures" in page

    weak.metrics = {k: v for k, v in weak.metrics.items() if not k.startswith("historical_")}
    weak.metrics["sets"] = HELD_OUT
    weak.save()
    page = admin_client.get(reverse("jobs:promote", args=[weak.pk])).content.decode()
    assert "two-epochs has no figures on the historical photographs" in page


def test_the_defaults_historical_figures_measured_by_the_candidates_run_count(admin_client, models):
    """A training run scores the default on the historical photographs: the page does not say it has none."""
    default, weak = models
    figures = {"historical_psnr": 22.7, "historical_ab_pearson": 0.27}
    sets = {**HELD_OUT, "historical": {"name": "historical_color", "images": 34}}
    weak.metrics = _scored_with(default, {**weak.metrics, "historical_psnr": 22.3}, sets, **figures)
    weak.save()
    page = admin_client.get(reverse("jobs:promote", args=[weak.pk])).content.decode()
    assert 'data-missing="historical"' not in page and "historical_color, 34 images" in page
    assert "have no figures on the historical photographs" not in page

    weak.metrics = _scored_with(default, {"test_psnr": 24.1}, sets, **figures)  # the candidate lacks them
    weak.save()
    page = admin_client.get(reverse("jobs:promote", args=[weak.pk])).content.decode()
    note = page[page.index('data-missing="historical"') :].split("</p>")[0]
    assert "two-epochs has no figures on the historical photographs" in note and "unet-v6" not in note


def test_figures_from_different_sets_are_shown_and_not_judged(admin_client, models):
    """The issue's case: a run's 4 test frames against the default's training-time split."""
    default, _ = models
    own = {"test": {"name": "run #7 held-out frames", "images": 4}}
    other = ColorModel.objects.create(
        name="other-split", checkpoint="models/o.pt",
        metrics={"test_psnr": 20.1, "test_ab_pearson": 0.05, "sets": own},
    )  # fmt: skip
    page = admin_client.get(reverse("jobs:promote", args=[other.pk])).content.decode()
    assert 'data-verdict="worse"' not in page and 'data-verdict="better"' not in page
    assert "0.0500" in page and "0.2340" in page  # both shown
    row = page[page.index('data-set="test"') :].split("</tr>")[0]
    assert 'data-same="no"' in row and "run #7 held-out frames, 4 images" in row
    assert "were not scored on the same images" in page and 'name="confirm"' not in page


def test_a_model_without_hints_is_refused_unless_confirmed(admin_client, models):
    default, weak = models
    default.info = {**default.info, "model_args": {"hints": True, "width": 32}}
    default.save()
    plain = ColorModel.objects.create(
        name="plain-unet", checkpoint="models/p.pt", info={"model_args": {"hints": False, "width": 32}},
        metrics=_scored_with(default, {"test_psnr": 24.5, "test_ab_pearson": 0.3}),
    )  # fmt: skip
    page = admin_client.get(reverse("jobs:promote", args=[plain.pk])).content.decode()
    assert "plain-unet takes no colour hints and unet-v6 does" in page and 'name="confirm_no_hints"' in page
    response = admin_client.post(reverse("jobs:promote", args=[plain.pk]), follow=True)
    assert "would ignore every hint placed in the hint editor" in response.content.decode()
    assert ColorModel.objects.get(is_default=True) == default
    response = admin_client.post(
        reverse("jobs:promote", args=[plain.pk]), {"confirm_no_hints": "1"}, follow=True
    )
    assert "plain-unet is now the default" in response.content.decode()

    hinted = ColorModel.objects.create(
        name="hinted", checkpoint="models/h.pt", info={"model_args": {"hints": True}}, metrics={}
    )
    page = admin_client.get(reverse("jobs:promote", args=[hinted.pk])).content.decode()
    assert 'name="confirm_no_hints"' not in page  # the default (plain-unet) has no hints to lose


def test_figures_a_rounding_apart_are_the_same(admin_client, models):
    """A retrained model that scores 12.8026 against the default's 12.8 is not "worse": the last digits move with
    the machine's arithmetic, not with the model."""
    default = models[0]
    figures = {k: v * (1 + 2e-4) for k, v in DEFAULT_FIGURES.items()}
    close = ColorModel.objects.create(
        name="close",
        checkpoint="models/close.pt",
        info={"version": "1"},
        metrics=_scored_with(default, figures),
    )
    page = admin_client.get(reverse("jobs:promote", args=[close.pk])).content.decode()
    assert 'data-verdict="worse"' not in page and 'data-verdict="better"' not in page
    assert page.count('data-verdict="same"') == 3  # PSNR, correlation, MAE; the gray baseline is not judged
