"""End to end on real services: PostgreSQL, Redis and a real `celery worker` process (-Q gpu,cpu).

A staff user uploads a photo and a short film, an admin registers a tiny checkpoint, staff request
colorizations; the worker colorizes the photo, cuts the film into segments, colorizes and joins them; the
results carry provenance. An admin then triggers retraining, which registers a new model.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from portal.catalog.models import Item
from portal.jobs.models import ColorizationRequest, ColorModel, Status, TrainingRun
from tests.support.media import make_film, make_photo
from tests.support.services import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _finished(model, pk):
    def check():
        row = model.objects.get(pk=pk)
        return row if row.status not in (Status.PENDING, Status.RUNNING) else None

    return check


def test_staff_colorize_photo_and_film_with_a_real_worker(
    live_worker, staff_user, admin_account, tiny_model, tmp_path
):
    staff, admin = _login(staff_user), _login(admin_account)
    with open(tiny_model, "rb") as f:
        admin.post(reverse("jobs:training"), {"form": "model", "model-name": "tiny", "model-checkpoint": f,
                                              "model-make_default": "on"})  # fmt: skip
    model = ColorModel.objects.get(name="tiny")
    wait_for(
        lambda: ColorModel.objects.get(pk=model.pk).info, 60, what="model inspection", log=live_worker.log
    )

    photo = make_photo(tmp_path / "quay_1911.png", size=(120, 90))
    film = make_film(tmp_path / "tram_1925.mp4", frames=20, gop=5)
    for path in (photo, film):
        with open(path, "rb") as f:
            assert staff.post(reverse("catalog:upload"), {"files": [f]}).status_code == 302
    photo_item = Item.objects.get(original_name=photo.name)
    film_item = Item.objects.get(original_name=film.name)
    wait_for(lambda: Item.objects.filter(preview="").count() == 0, 60, what="previews", log=live_worker.log)

    staff.post(reverse("jobs:submit", args=[photo_item.pk]), {"models": [model.pk]})
    staff.post(reverse("jobs:submit", args=[film_item.pk]), {"models": [model.pk], "smoothing": "ema"})
    photo_req = ColorizationRequest.objects.get(item=photo_item)
    film_req = ColorizationRequest.objects.get(item=film_item)

    photo_req = wait_for(
        _finished(ColorizationRequest, photo_req.pk), 240, what="the photo", log=live_worker.log
    )
    assert photo_req.status == Status.DONE, photo_req.error
    result = photo_req.result.path
    assert open(result, "rb").read().count(b"<x:xmpmeta") == 1
    if shutil.which("exiftool"):
        xmp = json.loads(
            subprocess.run(["exiftool", "-json", "-XMP:all", result], capture_output=True, text=True).stdout
        )[0]
        assert "tiny" in json.dumps(xmp)  # the model is named in the image's own metadata
    from PIL import Image

    assert Image.open(result).size == (120, 90)  # full resolution, like the original

    film_req = wait_for(
        _finished(ColorizationRequest, film_req.pk), 300, what="the film", log=live_worker.log
    )
    assert film_req.status == Status.DONE, film_req.error
    segments = list(film_req.segments.all())
    assert len(segments) >= 2 and all(
        s.status == Status.DONE for s in segments
    )  # shared out as segment tasks
    import av

    with av.open(film_req.result.path) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 20
    assert film_req.provenance["segments"] == len(segments) and film_req.provenance["model"] == "tiny"
    with av.open(film_req.result.path) as container:
        assert "tiny" in json.dumps(container.metadata)  # the film's own metadata names the model
    assert np.abs(frames[5].astype(int)[..., 0] - frames[5].astype(int)[..., 2]).mean() > 0.5  # it has colour

    # Staff compare and approve; after publishing, the public sees it.
    page = staff.get(reverse("catalog:item", args=[photo_item.pk])).content.decode()
    assert "AI colorization" in page and "tiny" in page
    staff.post(reverse("jobs:request_action", args=[photo_req.pk, "approve"]))
    staff.post(reverse("catalog:item_publish", args=[photo_item.pk]))
    public = Client().get(reverse("gallery:item", args=[photo_item.pk])).content.decode()
    assert (
        "AI colorization" in public
        and reverse("gallery:result_file", args=[photo_req.pk, "preview"]) in public
    )


def test_admin_retraining_registers_a_model(live_worker, admin_account, staff_user, tmp_path, settings):
    admin = _login(admin_account)
    historical = Path(settings.HISTORICAL_PHOTOS)  # the worker's too: it shares WORK_DIR
    historical.mkdir(parents=True)
    for i in range(2):
        make_photo(historical / f"plate_{i}.png", size=(80, 64), gray=False)
    rng = np.random.default_rng(7)
    images = []
    for i in range(12):  # colourful, distinct images: enough for train / val / test splits
        base = make_photo(tmp_path / f"colour_{i:02d}.png", size=(96, 96), gray=False)
        from PIL import Image

        arr = np.asarray(Image.open(base)).astype(int)
        arr = np.roll(arr, i * 7, axis=1) + rng.integers(-30, 30, arr.shape)
        arr[:, :, i % 3] = (arr[:, :, i % 3] + 60 * (i % 4)).clip(0, 255)
        Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(base)
        images.append(base)
    handles = [open(p, "rb") for p in images]
    try:
        admin.post(reverse("jobs:training"), {"form": "source", "source-files": handles})
    finally:
        for h in handles:
            h.close()
    extra = "\n".join([
        "batch_size=2", "crop=64", "max_steps_per_epoch=3", "device=cpu", "workers=0", "save_half=false",
        "warmup_steps=1", "threads=1", "build.splits=[0.5, 0.25, 0.25]", "build.dedupe_distance=0",
    ])  # fmt: skip
    form = {
        "form": "train",
        "train-name": "retrained",
        "train-epochs": 1,
        "train-width": 4,
        "train-extra": extra,
    }
    # Staff may not start a run; the admin may.
    assert _login(staff_user).post(reverse("jobs:training"), form).status_code == 403
    response = admin.post(reverse("jobs:training"), form)
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response.url == reverse("jobs:training_run", args=[run.pk])

    try:
        run = wait_for(_finished(TrainingRun, run.pk), 300, what="the training run", log=live_worker.log)
    finally:
        shutil.rmtree(historical)
    assert run.status == Status.DONE, run.error + "\n" + run.log
    model = run.result_model
    assert model.name == "retrained" and model.info["model_args"]["width"] == 4
    # scored on the historical photographs too, the figures stored in its file as `eval-historical --record` does
    stored = model.info["metrics"]["historical"]
    assert stored["photos"] == 2 and stored["folder"] == historical.name
    assert model.metrics["historical_psnr"] == stored["model_metrics"]["psnr"]
    assert {"historical_ab_pearson", "historical_ssim", "historical_colourfulness_ratio", "test_psnr"} <= set(
        model.metrics
    )
    page = admin.get(reverse("jobs:promote", args=[model.pk])).content.decode()
    assert 'data-figure="historical_psnr"' in page and "retrained has no figures" not in page
    assert any(p.get("event") == "epoch" for p in run.curve)
    page = admin.get(reverse("jobs:training_run", args=[run.pk])).content.decode()
    assert "<svg" in page and "Make retrained the default" in page
    admin.post(reverse("jobs:promote", args=[model.pk]))
    assert ColorModel.objects.get(is_default=True) == model
