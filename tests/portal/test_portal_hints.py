"""Colour hints in the portal: the check of what the editor and the API send, the quick preview, a request
that carries its hints to the worker, and the points shown with the result.

Eager mode runs the real task bodies (preview, colorize) in this process; the browser test
(tests/portal/test_portal_hints_browser.py) goes through the same flow against a real worker.
"""

from __future__ import annotations

import html
import io
import json
import re

import numpy as np
import pytest
from django.core.files import File
from django.urls import reverse
from PIL import Image

from colorization.hints import HintError
from portal.catalog.ingest import add_item
from portal.jobs import hints
from portal.jobs.models import ColorizationRequest, ColorModel, HintPreview, Status
from tests.support.models import hinted_checkpoint

pytestmark = pytest.mark.django_db

THREE = [
    {"x": 0.2, "y": 0.25, "color": "#1F4FD0"},
    {"x": 0.5, "y": 0.5, "color": "#c33"},
    {"x": 0.8, "y": 0.7, "color": "#2e8b57"},
]


@pytest.fixture
def hinted_row(tmp_path, django_capture_on_commit_callbacks):
    from portal.jobs import services

    path = hinted_checkpoint(tmp_path / "hinted.pt")
    with django_capture_on_commit_callbacks(execute=True), open(path, "rb") as f:
        return services.register_model("hinted", File(f, name="hinted.pt"))


@pytest.fixture
def photo_item(photo_file, staff_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), open(photo_file, "rb") as f:
        return add_item(File(f, name=photo_file.name), user=staff_user, title="Harbour")


# ---------------------------------------------------------------- the check


def test_the_check_takes_the_documented_format_and_normalizes_colours():
    doc = json.dumps({"points": THREE})
    assert hints.check(doc) == {
        "points": [
            {"x": 0.2, "y": 0.25, "color": "#1f4fd0"},
            {"x": 0.5, "y": 0.5, "color": "#cc3333"},
            {"x": 0.8, "y": 0.7, "color": "#2e8b57"},
        ]
    }
    assert hints.check("") == {} and hints.check({"points": []}) == {}
    assert hints.check(THREE) == hints.check(doc)  # the bare list of points too
    # a photograph's: a point's film frame is not kept (a film's go by keyframe: test_portal_film_hints.py)
    assert hints.check([{**THREE[0], "frame": 3}]) == hints.check(THREE[:1])
    assert (
        hints.check([{**THREE[0], "reach": "small"}])["points"][0]["reach"] == "small"
    )  # kept for the worker


def test_the_check_keeps_strokes_regions_reach_and_strength_as_the_library_writes_them():
    sent = {
        "points": THREE[:1],
        "strokes": [
            {"points": [[0.1, 0.1], [0.3, 0.2]], "color": "#C33", "reach": "small", "frame": 4},
            {
                "points": [[0.5, 0.5], [0.9, 0.5], [0.7, 0.9]],
                "color": "#2e8b57",
                "closed": True,
                "reach": "region",
            },
        ],
        "strength": 1.25,
    }
    kept = hints.check(json.dumps(sent))
    assert kept["strength"] == 1.25 and len(kept["points"]) == 1
    assert kept["strokes"] == [
        {"points": [[0.1, 0.1], [0.3, 0.2]], "color": "#cc3333", "closed": False, "reach": "small"},
        {
            "points": [[0.5, 0.5], [0.9, 0.5], [0.7, 0.9]],
            "color": "#2e8b57",
            "closed": True,
            "reach": "region",
        },
    ]
    assert hints.check({"strength": 0.6}) == {
        "points": [],
        "strength": 0.6,
    }  # a strength alone is a request too
    assert hints.summary(kept) == "1 colour hint, 1 stroke and 1 region, colour strength 1.25"
    assert hints.count(kept) == 3


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        ({"points": [{"x": 0.5, "y": 1.2, "color": "#112233"}]}, "Colour hints, point 1: y = 1.2 lies outside the picture"),
        ({"points": [{"x": -0.1, "y": 0.5, "color": "#112233"}]}, "Colour hints, point 1: x = -0.1 lies outside the picture"),
        (
            {"points": [{"x": 0.1, "y": 0.1, "color": "#112233"}, {"x": 0.5, "y": 0.5, "color": "blue"}]},
            "Colour hints, point 2: colour 'blue' is not an sRGB hex colour",
        ),
        ({"points": [{"x": "left", "y": 0.5, "color": "#112233"}]}, "Colour hints, point 1: x must be a number"),
        ({"pts": []}, 'expected {"points"'),
        ("{not json", "not JSON"),
        ({"points": [{"x": 0.5, "y": 0.5, "color": "#123456"}] * 201}, "201 points; at most 200"),
        ({"strokes": [{"points": [[0.1, 0.1]], "color": "#123456"}]}, "Colour hints, stroke 1: 1 vertices; a stroke takes a list of 2"),
        (
            {"strokes": [{"points": [[0.1, 0.1], [0.2, 0.2]], "color": "#123456", "closed": True}]},
            "Colour hints, stroke 1: 2 vertices; a closed stroke (a region) takes a list of 3",
        ),
        (
            {"strokes": [{"points": [[0.1, 0.1], [1.4, 0.2]], "color": "#123456"}]},
            "Colour hints, stroke 1, vertex 2: x = 1.4 lies outside the picture",
        ),
        ({"points": [{**THREE[0], "reach": "huge"}]}, "Colour hints, point 1: reach 'huge' must be one of"),
        ({"points": THREE, "strength": 2}, "Colour hints, strength: 2 must be a number from 0.5 (muted) to 1.5"),
    ],
)  # fmt: skip
def test_a_bad_hint_gets_a_message_naming_the_point(sent, message):
    with pytest.raises(HintError) as caught:
        hints.check(sent if isinstance(sent, str) else json.dumps(sent))
    assert message in str(caught.value)


# ---------------------------------------------------------------- the form and the API


def test_a_refused_submission_says_why_queues_nothing_and_keeps_the_points(
    staff_client, photo_item, model_row
):
    bad = json.dumps({"points": [THREE[0], {"x": 0.5, "y": 0.5, "color": "navy"}]})
    response = staff_client.post(
        reverse("jobs:submit", args=[photo_item.pk]), {"models": [model_row.pk], "hints": bad}, follow=True
    )
    text = response.content.decode()
    assert "Colour hints, point 2: colour &#x27;navy&#x27; is not an sRGB hex colour" in text
    assert not ColorizationRequest.objects.exists()
    kept = response.context["initial_hints"]
    assert kept["points"][0] == THREE[0] and len(kept["points"]) == 2  # back in the editor, to be corrected


@pytest.mark.parametrize(
    ("stroke", "message"),
    [
        ({"points": [[0.2, 0.2]], "color": "#123456"}, "Colour hints, stroke 1: 1 vertices; a stroke takes"),
        (
            {"points": [[0.2, 0.2], [0.3, -0.5]], "color": "#123456"},
            "Colour hints, stroke 1, vertex 2: y = -0.5 lies outside the picture",
        ),
    ],
)
def test_a_bad_stroke_is_refused_with_a_message_and_nothing_is_saved(
    staff_client, photo_item, model_row, stroke, message
):
    sent = json.dumps({"points": THREE[:1], "strokes": [stroke], "strength": 1.2})
    response = staff_client.post(
        reverse("jobs:submit", args=[photo_item.pk]), {"models": [model_row.pk], "hints": sent}, follow=True
    )
    assert message in html.unescape(response.content.decode())
    assert not ColorizationRequest.objects.exists()
    kept = response.context["initial_hints"]  # back in the editor as sent, to be corrected
    assert kept["strokes"] == [stroke] and kept["strength"] == 1.2
    preview = staff_client.post(reverse("jobs:hint_preview", args=[photo_item.pk]), {"hints": sent})
    assert preview.status_code == 400 and message in preview.json()["error"]
    assert not HintPreview.objects.exists()


def test_a_submission_keeps_its_checked_points_with_the_request(staff_client, photo_item, model_row):
    response = staff_client.post(
        reverse("jobs:submit", args=[photo_item.pk]),
        {"models": [model_row.pk], "hints": json.dumps({"points": THREE})},
        follow=True,
    )
    assert "queued with 3 colour hints" in response.content.decode()
    req = ColorizationRequest.objects.get()
    assert req.options["hints"] == hints.check({"points": THREE})


def test_a_submission_keeps_its_strokes_and_strength_with_the_request(staff_client, photo_item, model_row):
    sent = {
        "points": THREE[:2],
        "strokes": [
            {"points": [[0.1, 0.1], [0.3, 0.2]], "color": "#123456", "closed": False, "reach": "small"}
        ],
        "strength": 0.7,
    }
    response = staff_client.post(
        reverse("jobs:submit", args=[photo_item.pk]),
        {"models": [model_row.pk], "hints": json.dumps(sent)},
        follow=True,
    )
    assert "queued with 2 colour hints and 1 stroke, colour strength 0.7" in response.content.decode()
    req = ColorizationRequest.objects.get()
    assert req.options["hints"] == hints.check(sent) and req.options["hints"]["strength"] == 0.7


def test_the_api_takes_hints_and_refuses_bad_ones_by_point(staff_client, photo_item, model_row):
    url = "/api/requests/"
    bad = {"item": photo_item.pk, "hints": {"points": [{"x": 1.5, "y": 0.5, "color": "#123456"}]}}
    response = staff_client.post(url, bad, content_type="application/json")
    assert response.status_code == 400
    assert "Colour hints, point 1: x = 1.5 lies outside the picture" in response.json()["hints"][0]
    good = {"item": photo_item.pk, "hints": {"points": THREE}}
    response = staff_client.post(url, good, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()[0]["options"]["hints"]["points"][1]["color"] == "#cc3333"


# ---------------------------------------------------------------- preview, worker, result page


def test_the_quick_preview_is_a_small_jpeg_made_with_the_hints(
    staff_client, photo_item, hinted_row, django_capture_on_commit_callbacks
):
    url = reverse("jobs:hint_preview", args=[photo_item.pk])
    refused = staff_client.post(
        url, {"hints": json.dumps({"points": [{"x": 0.5, "y": 0.5, "color": "#12"}]})}
    )
    assert refused.status_code == 400 and "Colour hints, point 1: colour '#12'" in refused.json()["error"]
    images = []
    for given in ([], THREE):
        with django_capture_on_commit_callbacks(execute=True):
            answer = staff_client.post(url, {"hints": json.dumps({"points": given}), "model": hinted_row.pk})
        assert answer.status_code == 202
        status = staff_client.get(answer.json()["status_url"]).json()
        assert status["status"] == "done", status
        assert status["marks"] == len(given)
        jpeg = staff_client.get(status["image_url"])
        assert jpeg["Content-Type"] == "image/jpeg"
        image = Image.open(io.BytesIO(jpeg.content))
        assert max(image.size) <= 640 and image.size[0] / image.size[1] == pytest.approx(96 / 72, rel=0.02)
        images.append(np.asarray(image.convert("RGB"), dtype=np.int16))
    assert not np.array_equal(images[0], images[1])  # the hints reached the network
    assert HintPreview.objects.count() == 2


def test_a_hinted_request_runs_with_its_hints_and_shows_them(
    staff_client, photo_item, hinted_row, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            reverse("jobs:submit", args=[photo_item.pk]),
            {"models": [hinted_row.pk], "hints": json.dumps({"points": THREE})},
        )
    req = ColorizationRequest.objects.get()
    assert req.status == Status.DONE, req.error
    assert req.provenance["colour_hints"] == 3 and "hints" not in req.provenance
    page = staff_client.get(req.get_absolute_url()).content.decode()
    assert page.count("data-hint-point=") == 3 and page.count("data-hint-row=") == 3
    assert "#1f4fd0" in page and "Start a new request from these hints" in page
    again = staff_client.get(reverse("catalog:item", args=[photo_item.pk]), {"hints_from": req.pk})
    assert again.context["initial_hints"] == req.options["hints"]
    assert json.loads(_attribute(again.content.decode(), "data-initial-hints")) == req.options["hints"]


def test_a_model_without_hint_channels_says_the_hints_were_ignored(
    staff_client, photo_item, model_row, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            reverse("jobs:submit", args=[photo_item.pk]),
            {"models": [model_row.pk], "hints": json.dumps({"points": THREE[:1]})},
        )
    req = ColorizationRequest.objects.get()
    assert req.status == Status.DONE and req.provenance["colour_hints_ignored"] == 1
    assert "takes no colour hints" in staff_client.get(req.get_absolute_url()).content.decode()
    assert ColorModel.objects.get(pk=model_row.pk).info.get("model_args", {}).get("hints") in (None, False)


def _attribute(page: str, name: str) -> str:
    start = page.index(f'{name}="') + len(name) + 2
    return html.unescape(page[start : page.index('"', start)])


def test_the_default_model_turns_a_grey_area_blue_where_a_blue_hint_says(
    staff_client, staff_user, tmp_path, django_capture_on_commit_callbacks
):
    from colorization import checkpoint, zoo
    from colorization.color import rgb_to_lab

    if not checkpoint.load(zoo.resolve_model("default"))["model_args"].get("hints"):
        pytest.skip("the bundled default model takes no colour hints (its model_args do not say hints: true)")
    model = ColorModel.objects.create(name="default", zoo_name="default", is_default=True)
    grey = tmp_path / "grey_wall.png"
    Image.new("L", (192, 144), 128).save(grey)
    with django_capture_on_commit_callbacks(execute=True), open(grey, "rb") as f:
        item = add_item(File(f, name=grey.name), user=staff_user, title="Grey wall")
    blue = json.dumps({"points": [{"x": 0.5, "y": 0.5, "color": "#1030c0"}]})
    for hints_sent in ("", blue):
        with django_capture_on_commit_callbacks(execute=True):
            staff_client.post(
                reverse("jobs:submit", args=[item.pk]), {"models": [model.pk], "hints": hints_sent}
            )
    plain, hinted = (
        rgb_to_lab(np.asarray(Image.open(r.result.path).convert("RGB"), np.float32) / 255)[
            66:78, 90:102, 2
        ].mean()
        for r in ColorizationRequest.objects.order_by("pk")
    )
    assert hinted < plain - 5  # Lab b: negative is blue


def test_strokes_and_strength_reach_the_worker_the_preview_and_the_files_xmp(
    staff_client, photo_item, hinted_row, django_capture_on_commit_callbacks
):
    sent = {
        "points": THREE[:1],
        "strokes": [
            {"points": [[0.1, 0.6], [0.5, 0.9]], "color": "#c33", "closed": False},
            {
                "points": [[0.6, 0.1], [0.95, 0.1], [0.8, 0.4]],
                "color": "#1f4fd0",
                "closed": True,
                "reach": "small",
            },
        ],
        "strength": 1.3,
    }
    url = reverse("jobs:hint_preview", args=[photo_item.pk])
    images = []
    for given in ({"points": THREE[:1]}, sent):
        with django_capture_on_commit_callbacks(execute=True):
            answer = staff_client.post(url, {"hints": json.dumps(given), "model": hinted_row.pk})
        status = staff_client.get(answer.json()["status_url"]).json()
        assert status["status"] == "done" and status["marks"] == hints.count(hints.check(given)), status
        images.append(
            np.asarray(Image.open(io.BytesIO(staff_client.get(status["image_url"]).content)), np.int16)
        )
    assert not np.array_equal(images[0], images[1])  # the strokes and strength reached the preview

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            reverse("jobs:submit", args=[photo_item.pk]),
            {"models": [hinted_row.pk], "hints": json.dumps(sent)},
        )
    req = ColorizationRequest.objects.get()
    assert req.status == Status.DONE, req.error
    # as the command line records a hints file's strength and strokes (colorization.pipeline.hint_context)
    assert req.provenance["colour_strength"] == 1.3 and req.provenance["colour_hint_strokes"] == 2
    assert req.provenance["colour_hints"] == 1
    packet = _xmp(req.result.path)
    assert 'colorarchive:ColourStrength="1.3"' in packet
    assert "Staff gave 1 colour hint and 2 strokes" in packet
    stored = json.loads(html.unescape(re.search(r"colorarchive:ColourHintPoints='([^']*)'", packet)[1]))
    assert stored == hints.check(sent)  # the file carries the same hints document the request keeps
    page = staff_client.get(req.get_absolute_url()).content.decode()
    assert page.count("data-hint-stroke=") == 2 and "Colour strength 1.3" in page
    assert "1 colour hint and 2 strokes" not in page  # a closed stroke is a region
    assert "1 colour hint, 1 stroke and 1 region, colour strength 1.3" in page


def _xmp(path) -> str:
    """The XMP packet a result file carries (the encoders embed it as UTF-8 text)."""
    data = open(path, "rb").read()
    start = data.index(b"<x:xmpmeta")
    return data[start : data.index(b"</x:xmpmeta>", start)].decode("utf-8")


def test_a_refused_submission_with_many_points_keeps_them_out_of_the_address(
    staff_client, photo_item, model_row
):
    """60 points in the redirect's address made a Location header past nginx's 4 KB buffer: a 502, points lost."""
    many = [{"x": round(0.01 + i / 70, 4), "y": 0.5, "color": "#2f5a8a"} for i in range(59)]
    bad = json.dumps({"points": [*many, {"x": 0.5, "y": 0.5, "color": "navy"}]})
    url = reverse("jobs:submit", args=[photo_item.pk])
    answer = staff_client.post(url, {"models": [model_row.pk], "hints": bad})
    assert answer.status_code == 302 and len(answer["Location"]) < 200, len(answer["Location"])
    page = staff_client.get(answer["Location"])
    assert len(page.context["initial_hints"]["points"]) == 60  # back in the editor, to be corrected
    assert staff_client.get(answer["Location"]).context["initial_hints"] == {}  # shown once
    assert not ColorizationRequest.objects.exists()
