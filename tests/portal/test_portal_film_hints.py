"""Colour hints on a film's keyframes in the portal: the check groups a film's marks by frame, the editor's
quick preview shows one frame (as it is, and colorized with the marks placed on it), a request keeps the
keyframes document, and a real worker colorizes the film with it: the hinted frame takes the hint's colour
near the hint, against the same film without hints.

The first tests run the task bodies eagerly; the last one uses a real `celery worker` (tests/conftest.py).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.core.files import File
from django.urls import reverse
from PIL import Image

from colorization.color import rgb_to_lab
from colorization.hints import HintError, parse_keyframes
from portal.catalog.models import Item
from portal.jobs import hints, services
from portal.jobs.models import ColorizationRequest, Status
from tests.support.catalog import add_hint_film
from tests.support.models import hinted_checkpoint
from tests.support.services import wait_for

BLUE = "#1030c0"  # Lab b about -70: far from anything a grey film's model output has
HINT = {"x": 0.25, "y": 0.75, "color": BLUE, "reach": "small"}  # on the plain background, below the square
FRAME = 12


@pytest.fixture
def film_item(tmp_path, staff_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        item = add_hint_film(tmp_path / "street_1936.mp4", staff_user)
    return Item.objects.get(pk=item.pk)


@pytest.fixture
def hinted_model(tmp_path, django_capture_on_commit_callbacks):
    path = hinted_checkpoint(tmp_path / "hinted.pt")
    with django_capture_on_commit_callbacks(execute=True), open(path, "rb") as f:
        return services.register_model("hinted", File(f, name="hinted.pt"))


def test_the_check_groups_a_films_marks_by_keyframe_as_the_library_reads_them():
    sent = {
        "keyframes": {"40": {"points": [HINT]}, "3": {"points": [{**HINT, "color": "#C33"}]}},
        "strength": 1.2,
    }
    kept = hints.check(json.dumps(sent), film=True)
    assert list(kept["keyframes"]) == ["3", "40"] and kept["strength"] == 1.2
    assert kept["keyframes"]["3"] == {
        "points": [{"x": 0.25, "y": 0.75, "color": "#cc3333", "reach": "small"}]
    }
    assert [p.frame for p in parse_keyframes(kept).points] == [3, 40]
    # marks naming their frame come out the same way; a photograph takes no keyframes
    assert hints.check({"points": [{**HINT, "frame": 40}, {**HINT, "frame": 3, "color": "#c33"}], "strength": 1.2},
                       film=True) == kept  # fmt: skip
    with pytest.raises(HintError, match="keyframes are for films"):
        hints.check(sent)
    with pytest.raises(HintError, match="keyframe '40', point 1: colour"):
        hints.check({"keyframes": {"40": {"points": [{**HINT, "color": "blue"}]}}}, film=True)
    assert hints.summary(kept) == "2 colour hints on 2 frames, colour strength 1.2"
    assert hints.on_frame(kept, 40) == {"points": [HINT], "strength": 1.2} and hints.count(kept) == 2


@pytest.mark.django_db
def test_the_film_editor_previews_a_frame_as_it_is_and_with_its_marks(
    staff_client, film_item, hinted_model, django_capture_on_commit_callbacks
):
    page = staff_client.get(reverse("catalog:item", args=[film_item.pk])).content.decode()
    assert "data-hint-editor" in page and 'data-film-frames="24"' in page and 'name="hints"' in page
    assert 'data-poster-frame="2"' in page and 'data-film-fps="' in page
    url = reverse("jobs:hint_preview", args=[film_item.pk])
    doc = json.dumps({"keyframes": {str(FRAME): {"points": [HINT]}}})
    pictures = {}
    for name, sent in (("plain", ""), ("hinted", doc)):
        with django_capture_on_commit_callbacks(execute=True):
            answer = staff_client.post(url, {"hints": sent, "model": hinted_model.pk, "frame": FRAME})
        assert answer.status_code == 202, answer.content
        answer = answer.json()
        status = staff_client.get(answer["status_url"]).json()
        assert status["status"] == "done" and status["frame"] == FRAME, status
        assert status["marks"] == (1 if sent else 0)
        still = Image.open(io.BytesIO(staff_client.get(status["still_url"]).content)).convert("RGB")
        pictures[name] = np.asarray(
            Image.open(io.BytesIO(staff_client.get(status["image_url"]).content)).convert("RGB")
        )
    # the still is frame 12 as it is: the square has moved 2 px a frame from the left
    grey = np.asarray(still)[..., 0].astype(int)
    assert still.size == (128, 96) and grey[16:32, 24:40].mean() > grey[40:, :].mean() + 100
    assert _b_at(pictures["hinted"], HINT) < _b_at(pictures["plain"], HINT) - 10  # blue where the hint is
    refused = staff_client.post(url, {"hints": "", "model": hinted_model.pk, "frame": 24})
    assert refused.status_code == 400 and "has 24 frames" in refused.json()["error"]


@pytest.mark.django_db
def test_the_api_and_the_form_keep_a_films_keyframes_and_refuse_frames_past_its_end(
    staff_client, film_item, model_row
):
    doc = {"keyframes": {str(FRAME): {"points": [HINT]}}, "strength": 1.2}
    answer = staff_client.post(
        "/api/requests/", {"item": film_item.pk, "hints": doc}, content_type="application/json"
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()[0]["options"]["hints"] == doc
    past = {"keyframes": {"24": {"points": [HINT]}}}
    answer = staff_client.post(
        reverse("jobs:submit", args=[film_item.pk]),
        {"models": [model_row.pk], "hints": json.dumps(past)},
        follow=True,
    )
    assert "Colour hints on frame 24: Street has 24 frames (0 to 23)." in answer.content.decode()
    assert ColorizationRequest.objects.count() == 1
    assert answer.context["initial_hints"] == past  # the refused marks come back to the editor, to correct


def _b_at(rgb: np.ndarray, hint: dict, half: int = 2) -> float:
    """Lab b of the picture around a hint's point (mean over a small square)."""
    h, w = rgb.shape[:2]
    y, x = int(hint["y"] * h), int(hint["x"] * w)
    lab = rgb_to_lab(
        rgb[max(0, y - half) : y + half + 1, max(0, x - half) : x + half + 1].astype(np.float32) / 255
    )
    return float(lab[..., 2].mean())


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_colorizes_a_film_with_its_keyframe_hints(staff_client, staff_user, live_worker, tmp_path):
    from colorization.media.film_reader import FilmReader
    from portal.jobs.models import ColorModel

    with open(hinted_checkpoint(tmp_path / "hinted.pt"), "rb") as f:
        model = ColorModel(name="hinted", is_default=True)
        model.checkpoint.save("hinted.pt", File(f), save=True)
    item = add_hint_film(tmp_path / "tram_1936.mp4", staff_user, title="Tram")
    wait_for(
        lambda: Item.objects.get(pk=item.pk).frame_count, 120, what="the film's previews", log=live_worker.log
    )
    doc = {"keyframes": {str(FRAME): {"points": [HINT]}}}
    for sent in (json.dumps(doc), ""):
        answer = staff_client.post(
            reverse("jobs:submit", args=[item.pk]),
            {"models": [model.pk], "smoothing": "keyframes", "hints": sent},
        )
        assert answer.status_code == 302
    hinted, plain = ColorizationRequest.objects.filter(item=item).order_by("pk")
    assert hinted.options == {"smoothing": "keyframes", "hints": doc} and "hints" not in plain.options

    def finished():
        rows = ColorizationRequest.objects.filter(item=item)
        return (
            list(rows.order_by("pk"))
            if all(r.status not in (Status.PENDING, Status.RUNNING) for r in rows)
            else None
        )

    hinted, plain = wait_for(finished, 300, what="both colorizations", log=live_worker.log)
    assert hinted.status == plain.status == Status.DONE, (hinted.error, plain.error)
    assert hinted.provenance["colour_hints"] == 1 and hinted.frames == 24
    frames = {}
    for req in (hinted, plain):
        decoded = FilmReader(prefetch=0, hash=False)(req.result.path)
        try:
            frames[req.pk] = [np.asarray(f.image) for f in decoded.frames]
        finally:
            decoded.close()
    b_hinted, b_plain = _b_at(frames[hinted.pk][FRAME], HINT), _b_at(frames[plain.pk][FRAME], HINT)
    print(f"Lab b at the hint on frame {FRAME}: {b_hinted:.1f} with the hint, {b_plain:.1f} without")
    assert b_hinted < b_plain - 10  # blue where the hint is, on the frame it was placed on
    page = staff_client.get(hinted.get_absolute_url()).content.decode()
    assert "1 colour hint on 1 frame" in page and f"frame {FRAME}: 25.0% across" in page
