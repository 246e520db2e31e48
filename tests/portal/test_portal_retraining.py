"""Retraining on a fresh install: the person filter follows the detector setting, the form states and checks the
minimum material, and a run that cannot train says why in an admin's words (eager worker bodies)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from portal.jobs.models import Status, TrainingRun
from portal.jobs.retraining import dataset_problem
from tests.conftest import make_photo

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
    assert run.error == (
        f"The person filter is unavailable: its detector weights are not at {tmp_path / 'yolov5n.onnx'}. "
        "Start the run again with the person filter off."
    )


def test_dataset_problem_names_each_short_split():
    assert dataset_problem({"train": {"frames": 40}, "val": {"frames": 4}, "test": {"frames": 5}}, 16) is None
    message = dataset_problem({"train": {"frames": 3}, "val": {"frames": 0}, "test": {"frames": 2}}, 16)
    assert "the training split has 3 frames and one batch needs 16" in message
    assert "the validation split has no frames" in message and "test split" not in message
    assert 'build.split_by="scene"' in message
