"""Colorization requests, eagerly: submit -> on-commit enqueue -> worker body -> DONE with a result file.

Eager mode runs the real task bodies in this process (CELERY_TASK_ALWAYS_EAGER); the integration tests
(tests/workers/) repeat the important paths with a real worker process.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from portal.catalog.ingest import add_item
from portal.catalog.models import Item
from portal.jobs import services
from portal.jobs.models import ColorizationRequest, ColorModel, Status
from workers import tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def photo_item(photo_file, staff_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), open(photo_file, "rb") as f:
        return add_item(File(f, name=photo_file.name), user=staff_user, title="Harbour")


def test_registered_checkpoint_is_inspected_by_the_worker(model_row):
    model_row.refresh_from_db()
    assert model_row.is_default  # the first model becomes the default
    assert model_row.info["name"] == "tiny" and model_row.info["model_args"]["width"] == 4
    assert model_row.info["parameters"] > 1000


def test_a_checkpoint_with_an_evaluation_report_lists_its_headline_figures(
    tmp_path, admin_client, django_capture_on_commit_callbacks
):
    from colorization.checkpoint import save
    from colorization.models import UNet, UNetConfig

    report = {
        "split": "test",
        "images": 322,
        "model_metrics": {
            "psnr": 23.97,
            "ab_pearson": 0.234,
            "ssim": 0.946,
            "mae": 12.81,
            "colourfulness": 21.5,
        },
        "grayscale_metrics": {"psnr": 21.99, "ab_pearson": 0.0},
    }
    path = save(
        tmp_path / "evaluated.pt",
        UNet(UNetConfig(width=4)),
        name="evaluated",
        metrics={"frames:test": report},
    )  # as `colorize-train eval` stores it
    with django_capture_on_commit_callbacks(execute=True), open(path, "rb") as f:
        model = services.register_model("evaluated", File(f, name="evaluated.pt"))
    model.refresh_from_db()
    assert model.metrics == {
        "test_psnr": 23.97,
        "test_ab_pearson": 0.234,
        "test_ssim": 0.946,
        "test_mae": 12.81,
        "test_colourfulness": 21.5,
        "test_gray_psnr": 21.99,
    }
    page = admin_client.get(reverse("jobs:training")).content.decode()
    cell = page[page.index('class="metrics"') :].split("</td>")[0]  # the first four, in the headline order
    assert cell.count("<span ") == 4 and cell.index(
        "PSNR on held-out frames (dB): <strong>23.970"
    ) < cell.index("Colour correlation on held-out frames (-1 to 1): <strong>0.234")
    assert 'data-figure="test_ssim"' in cell and 'data-figure="test_gray_psnr"' in cell
    assert 'data-figure="test_mae"' not in cell


def test_unreadable_checkpoint_is_reported_and_cannot_be_used(
    tmp_path, photo_item, django_capture_on_commit_callbacks
):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    with django_capture_on_commit_callbacks(execute=True), open(bad, "rb") as f:
        model = services.register_model("broken", File(f, name="broken.pt"))
    model.refresh_from_db()
    assert "is not a readable model checkpoint" in model.info["error"]
    with pytest.raises(services.SubmitError, match="cannot be used"):
        services.submit(None, photo_item, [model])


def test_a_broken_upload_asked_to_be_default_never_replaces_the_working_default(
    tmp_path, model_row, tiny_model, django_capture_on_commit_callbacks
):
    model_row.refresh_from_db()
    assert model_row.is_default
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    with django_capture_on_commit_callbacks(execute=True), open(bad, "rb") as f:
        broken = services.register_model("broken", File(f, name="broken.pt"), make_default=True)
    broken.refresh_from_db()
    model_row.refresh_from_db()
    assert "error" in broken.info and not broken.is_default and model_row.is_default
    with django_capture_on_commit_callbacks(execute=True), open(tiny_model, "rb") as f:
        good = services.register_model("tiny-2", File(f, name="tiny2.pt"), make_default=True)
    good.refresh_from_db()
    model_row.refresh_from_db()
    assert good.is_default and not model_row.is_default  # promoted once the worker had read it
    assert "promote_when_inspected" not in good.info


def test_staff_request_runs_to_done_with_result_and_provenance(
    staff_client, photo_item, model_row, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("jobs:submit", args=[photo_item.pk]), {"models": [model_row.pk]})
    assert response.status_code == 302
    req = ColorizationRequest.objects.get()
    assert (req.status, req.progress, req.preset, req.error) == (Status.DONE, 1.0, "photo", "")
    with req.result.open("rb") as f:
        data = f.read()
    assert b"<x:xmpmeta" in data  # provenance embedded in the image (XMP)
    assert req.result_preview and req.frames == 1
    assert req.provenance["model"] == "tiny" and req.provenance["source_sha256"] == photo_item.sha256
    page = staff_client.get(reverse("catalog:item", args=[photo_item.pk])).content.decode()
    assert "AI colorization" in page and "Approve for publication" in page
    status = staff_client.get(reverse("jobs:request_status", args=[req.pk])).json()
    assert status == {"id": req.pk, "status": "done", "progress": 100, "error": ""}


def test_duplicate_delivery_changes_nothing(photo_item, model_row, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        (req,) = services.submit(None, photo_item, [model_row])
    req.refresh_from_db()
    before = (req.status, req.result.name, req.attempts, req.finished)
    tasks.colorize.delay(req.pk)  # the broker delivers the same id again
    req.refresh_from_db()
    assert (req.status, req.result.name, req.attempts, req.finished) == before


def test_failure_is_shown_in_plain_words(
    staff_client, tmp_path, model_row, django_capture_on_commit_callbacks
):
    # The upload check refuses such a file (test_portal_ingest.py); one stored before it existed still fails clearly.
    torn = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
    item = Item(
        title="Torn scan",
        sha256=hashlib.sha256(torn).hexdigest(),
        size=len(torn),
        original_name="torn_scan.png",
    )  # recorded as stored: the fixity check passes and the decoder is what fails
    item.original.save("torn_scan.png", ContentFile(torn), save=True)
    with django_capture_on_commit_callbacks(execute=True):
        (req,) = services.submit(None, item, [model_row])
    req.refresh_from_db()
    assert req.status == Status.FAILED
    assert "torn_scan" in req.error and "Traceback" not in req.error
    assert req.error in staff_client.get(reverse("jobs:requests")).content.decode()


def test_cancel_and_retry(staff_client, photo_item, model_row):
    (req,) = services.submit(None, photo_item, [model_row])  # on_commit never fires: stays pending
    staff_client.post(reverse("jobs:request_action", args=[req.pk, "cancel"]))
    req.refresh_from_db()
    assert req.status == Status.CANCELLED
    tasks.colorize.delay(req.pk)  # a late delivery of a cancelled request does nothing
    req.refresh_from_db()
    assert req.status == Status.CANCELLED
    staff_client.post(reverse("jobs:request_action", args=[req.pk, "retry"]))
    assert ColorizationRequest.objects.filter(status=Status.PENDING).count() == 1


def test_requeue_stale_resets_a_lost_workers_job(photo_item, model_row, django_capture_on_commit_callbacks):
    (req,) = services.submit(None, photo_item, [model_row])
    ColorizationRequest.claim(req.pk)  # a worker took it ... and died
    ColorizationRequest.objects.filter(pk=req.pk).update(updated=timezone.now() - timedelta(hours=2))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("requeue_stale", minutes=30)
    req.refresh_from_db()
    assert req.status == Status.DONE and req.attempts == 2 and req.result


def test_claim_is_the_only_way_to_running(photo_item, model_row):
    (req,) = services.submit(None, photo_item, [model_row])
    assert ColorizationRequest.claim(req.pk).status == Status.RUNNING
    assert ColorizationRequest.claim(req.pk) is None


def test_promote_keeps_exactly_one_default(model_row, tiny_model):
    other = ColorModel.objects.create(name="other", checkpoint="models/x.pt")
    other.promote()
    assert list(ColorModel.objects.filter(is_default=True)) == [other]


def test_model_label_names_the_version_once(photo_item):
    named = ColorModel.objects.create(
        name="unet-bins-v6s", checkpoint="models/v6s.pt", info={"version": "6s"}
    )
    plain = ColorModel.objects.create(name="museum-run", checkpoint="models/m.pt", info={"version": "3"})
    labels = [
        ColorizationRequest.objects.create(item=photo_item, model=m, preset="photo").model_label
        for m in (named, plain)
    ]
    assert labels == ["unet-bins-v6s", "museum-run v3"]


def test_a_job_cancelled_while_running_stays_cancelled(photo_item, model_row):
    (req,) = services.submit(None, photo_item, [model_row])
    running = ColorizationRequest.claim(req.pk)
    req.cancel()  # staff cancel while the worker is busy
    assert running.finish(frames=1) is False
    running.fail("late error")
    req.refresh_from_db()
    assert req.status == Status.CANCELLED and req.frames is None
