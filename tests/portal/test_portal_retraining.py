"""Retraining on a fresh install: the person filter follows the detector setting, the form states and checks the
minimum material, and a run that cannot train says why in an admin's words (eager worker bodies)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from portal.jobs.models import Status, TrainingRun
from portal.jobs.retraining import dataset_problem
from tests.support.media import make_photo
from tests.support.training_runs import HINT_DEFAULT, TINY, colour_photos

pytestmark = pytest.mark.django_db

SMALL = "\n".join(["batch_size=16", "device=cpu", "workers=0", "threads=1", "build.dedupe_distance=0"])


def _add_sources(admin, folder, n: int) -> None:
    handles = [
        open(make_photo(folder / f"colour_{i}.png", size=(64 + i, 64), gray=False), "rb") for i in range(n)
    ]
    try:
        admin.post(reverse("jobs:training"), {"form": "source", "source-files": handles})
    finally:
        for h in handles:
            h.close()


def _filter_input(page: str) -> str:
    """The person filter's <input> tag."""
    return re.search(r'<input[^>]*name="train-person_filter"[^>]*>', page).group(0)


def _train(admin, **fields):
    form = {"form": "train", "train-name": "fresh", "train-epochs": 1, "train-width": 4, "train-extra": SMALL}
    return admin.post(reverse("jobs:training"), {**form, **fields})


def test_without_a_detector_the_form_says_so_and_runs_without_the_filter(
    admin_client, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.PERSON_DETECTOR = ""
    page = admin_client.get(reverse("jobs:training")).content.decode()
    assert "The person filter is unavailable: no detector is configured" in page
    assert (
        'name="train-person_filter"' in page
        and "disabled" in page.split('name="train-person_filter"')[1][:80]
    )
    assert "A run needs at least one batch of frames (16 by default)" in page

    _add_sources(admin_client, tmp_path, 3)
    with django_capture_on_commit_callbacks(execute=False):
        response = _train(admin_client, **{"train-person_filter": "on"})  # a stale form cannot switch it on
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and run.build_options["person_filter"] is False


def test_a_configured_detector_offers_the_filter_and_a_missing_file_is_named(
    admin_client, tmp_path, settings
):
    weights = tmp_path / "yolov5n.onnx"
    weights.write_bytes(b"onnx")
    settings.PERSON_DETECTOR = str(weights)
    page = admin_client.get(reverse("jobs:training")).content.decode()
    assert "person filter is unavailable" not in page
    assert "checked" in _filter_input(page) and "disabled" not in _filter_input(page)
    settings.PERSON_DETECTOR = str(tmp_path / "gone.onnx")
    page = admin_client.get(reverse("jobs:training")).content.decode()
    assert f"its detector weights are not at {tmp_path / 'gone.onnx'}" in page


def test_too_little_material_is_refused_before_a_run_is_queued(admin_client, tmp_path):
    _add_sources(admin_client, tmp_path, 2)
    page = _train(admin_client).content.decode()
    assert "There are 2 training films or photographs yet; a run needs at least 3" in page
    assert not TrainingRun.objects.exists()


def test_a_dataset_too_small_to_train_fails_before_fitting_in_plain_words(
    admin_client, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.PERSON_DETECTOR = ""
    _add_sources(admin_client, tmp_path, 3)
    with django_capture_on_commit_callbacks(execute=True):
        _train(admin_client)
    run = TrainingRun.objects.get()
    assert run.status == Status.FAILED
    assert run.error.startswith("Not enough training material: the training split has ")
    assert (
        "one batch needs 16" in run.error
        and "--" not in run.error
        and "fewer than one batch" not in run.error
    )
    assert "training fresh" not in run.log  # fit never started


def test_a_requested_filter_without_its_detector_fails_in_plain_words(
    admin_client, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.PERSON_DETECTOR = str(tmp_path / "yolov5n.onnx")
    (tmp_path / "yolov5n.onnx").write_bytes(b"onnx")
    _add_sources(admin_client, tmp_path, 3)
    with django_capture_on_commit_callbacks() as queued:
        _train(admin_client, **{"train-person_filter": "on"})
    (tmp_path / "yolov5n.onnx").unlink()  # gone between the form and the worker
    for enqueue in queued:
        enqueue()
    run = TrainingRun.objects.get()
    assert run.status == Status.FAILED and run.build_options["person_filter"] is True
    assert run.error == (  # the file by name: what staff see of an error names no server folder
        "The person filter is unavailable: its detector weights are not at yolov5n.onnx. "
        "Start the run again with the person filter off."
    )


def test_dataset_problem_names_each_short_split():
    assert dataset_problem({"train": {"frames": 40}, "val": {"frames": 4}, "test": {"frames": 5}}, 16) is None
    message = dataset_problem({"train": {"frames": 3}, "val": {"frames": 0}, "test": {"frames": 2}}, 16)
    assert "the training split has 3 frames and one batch needs 16" in message
    assert "the validation split has no frames" in message and "test split" not in message
    assert 'build.split_by="scene"' in message


# ---------------------------------------------------------------- fine-tuning the default, with a real worker


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_retraining_from_the_form_defaults_fine_tunes_the_default_and_scores_both_on_one_set(
    live_worker, admin_account, tmp_path, settings
):
    """The form's defaults fine-tune the default (same architecture, hint channels and decoding, from its
    weights) on the new photographs plus a replay of its training data, and the promotion page shows the
    candidate and the default measured on the same held-out frames and historical photographs."""
    import shutil
    from pathlib import Path

    from django.test import Client

    from colorization import checkpoint
    from colorization.models import UNet, UNetConfig
    from portal.jobs.models import ColorModel
    from tests.support.services import wait_for
    from training.build_dataset import build

    admin = Client()
    admin.force_login(admin_account)
    settings.PERSON_DETECTOR = ""
    base = checkpoint.save(
        tmp_path / "tiny-default.pt", UNet(UNetConfig(**HINT_DEFAULT)), name="tiny-default",
        train_config={"loss": "bins", "head": "bins", "hints": True, "lr": 1e-3, "dataset": "data/frames"},
    )  # fmt: skip
    with open(base, "rb") as f:
        admin.post(reverse("jobs:training"), {"form": "model", "model-name": "tiny-default", "model-checkpoint": f,
                                              "model-make_default": "on"})  # fmt: skip
    default = wait_for(
        lambda: ColorModel.objects.filter(name="tiny-default", is_default=True).first(), 120,
        what="the default to be inspected", log=live_worker.log,
    )  # fmt: skip
    replay, historical = Path(settings.REPLAY_DATASET), Path(settings.HISTORICAL_PHOTOS)  # the worker's too
    colour_photos(tmp_path / "old", 8, seed=3)  # the data the default "was trained on", to replay
    build([tmp_path / "old"], replay, person_filter=False, splits=(0.5, 0.25, 0.25), dedupe_distance=0)
    colour_photos(historical, 2, seed=5)
    try:
        handles = [open(p, "rb") for p in colour_photos(tmp_path / "new", 12, seed=7)]
        try:
            admin.post(reverse("jobs:training"), {"form": "source", "source-files": handles})
        finally:
            for h in handles:
                h.close()
        page = admin.get(reverse("jobs:training")).content.decode()
        start = re.search(r'<input[^>]*name="train-start"[^>]*value="default"[^>]*>', page).group(0)
        assert "checked" in start and "Fine-tune the current default, tiny-default" in page
        response = admin.post(reverse("jobs:training"), {
            "form": "train", "train-name": "museum", "train-start": "default", "train-epochs": 1,
            "train-width": 32, "train-extra": TINY,
        })  # fmt: skip
        run = TrainingRun.objects.get()
        assert response.status_code == 302 and run.start_from == default and "width" not in run.overrides

        def finished():
            row = TrainingRun.objects.get(pk=run.pk)
            return row if row.status not in (Status.PENDING, Status.RUNNING) else None

        run = wait_for(finished, 600, what="the training run", log=live_worker.log)
    finally:
        shutil.rmtree(replay, ignore_errors=True)
        shutil.rmtree(historical, ignore_errors=True)
    assert run.status == Status.DONE, run.error + "\n" + run.log
    model = run.result_model
    # the default's network: architecture, hint channels and decoding (width 4, not the form's 32)
    assert model.info["model_args"] == default.info["model_args"]
    tuned, ckpt = checkpoint.load_model(model.checkpoint.path)
    start, _ = checkpoint.load_model(base)
    assert ckpt["train_config"]["init_from"].endswith(Path(default.checkpoint.name).name)
    assert ckpt["train_config"]["loss"] == "bins" and ckpt["train_config"]["lr"] == pytest.approx(1e-4)
    first, started = tuned.down[0][0].weight.detach(), start.down[0][0].weight.detach()
    assert first.shape[1] == started.shape[1] and float((first - started).norm() / started.norm()) < 0.1
    assert "frames of " in run.dataset["replay"] and str(replay) in run.dataset["replay"]
    assert "replay: " in run.log

    page = admin.get(reverse("jobs:promote", args=[model.pk])).content.decode()
    for name in ("test", "historical"):
        row = page[page.index(f'data-set="{name}"') :].split("</tr>")[0]
        mine = re.search(r'data-side="candidate">([^<]*)<', row).group(1)
        theirs = re.search(r'data-side="default">([^<]*)<', row).group(1)
        assert 'data-same="yes"' in row and mine == theirs and " image" in mine
    assert f"run #{run.pk} held-out frames" in page and "historical_color, 2 images" in page
    assert "were not scored on the same images" not in page and 'data-warning="hints"' not in page
    assert (
        model.metrics["baseline"]["model"] == default.pk
        and "test_psnr" in model.metrics["baseline"]["figures"]
    )
