"""Small workflow defects: colour originals are flagged, publish dates are always recorded, the public home page
lists by publish date and features the default model's result; a foreign Host header and deeply nested hints
answer 400."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image, ImageOps

from portal.catalog.models import Item
from portal.jobs.models import ColorizationRequest, ColorModel
from tests.support.catalog import stub_item, stub_result
from tests.support.media import make_photo

pytestmark = pytest.mark.django_db


def _upload(client, path):
    with open(path, "rb") as f:
        return client.post(reverse("catalog:upload"), {"files": [f]})


def test_a_colour_original_gets_a_warning_and_grey_or_toned_ones_do_not(
    staff_client, tmp_path, django_capture_on_commit_callbacks
):
    colour = make_photo(tmp_path / "colour_scan.png", gray=False)
    grey = make_photo(tmp_path / "grey_scan.png", size=(97, 72))
    sepia = tmp_path / "sepia_print.jpg"
    toned = ImageOps.colorize(
        Image.open(make_photo(tmp_path / "g2.png", size=(98, 72))), "#301000", "#ffe0a0"
    )
    toned.save(sepia, quality=80)
    with django_capture_on_commit_callbacks(execute=True):
        for path in (colour, grey, sepia):
            _upload(staff_client, path)
    flags = dict(Item.objects.values_list("original_name", "is_colour"))
    assert flags == {"colour_scan.png": True, "grey_scan.png": False, "sepia_print.jpg": False}
    warned = Item.objects.get(original_name="colour_scan.png")
    page = staff_client.get(reverse("catalog:item", args=[warned.pk])).content.decode()
    assert 'data-warning="colour"' in page and "This original is in colour" in page
    grey_page = staff_client.get(
        reverse("catalog:item", args=[Item.objects.get(original_name="grey_scan.png").pk])
    ).content.decode()
    assert 'data-warning="colour"' not in grey_page
    assert "Colour original" in staff_client.get(reverse("catalog:dashboard")).content.decode()


def test_items_published_by_a_csv_row_get_a_publish_date(staff_client, tmp_path):
    scan = make_photo(tmp_path / "a.png", size=(40, 30))
    with open(scan, "rb") as f:
        staff_client.post(
            reverse("catalog:import"),
            {
                "csv_file": _csv("file,title,status\na.png,Dock,published\n"),
                "files": [f],
                **{f"map_{column}": column for column in ("file", "title", "status")},
            },
        )
    item = Item.objects.get()
    assert item.is_published and item.published_at is not None


def _csv(text: str):
    import io

    return io.BytesIO(text.encode())


def test_recently_published_follows_the_publish_date_not_the_creation_date(client):
    older = stub_item("Created first, published last", Item.Status.PUBLISHED)
    newer = stub_item("Created last, published first", Item.Status.PUBLISHED)
    now = timezone.now()
    Item.objects.filter(pk=older.pk).update(published_at=now)
    Item.objects.filter(pk=newer.pk).update(published_at=now - timedelta(days=3))
    page = client.get(reverse("gallery:home")).content.decode()
    recent = page[page.index("Recently published") :]
    assert recent.index(older.title) < recent.index(newer.title)


def test_the_home_page_features_the_default_models_result(client):
    default = ColorModel.objects.create(name="unet-default", checkpoint="models/a.pt", is_default=True)
    other = ColorModel.objects.create(name="unet-other", checkpoint="models/b.pt")
    by_default = stub_result(stub_item("Default's dock", Item.Status.PUBLISHED), default, True)
    by_other = stub_result(stub_item("Other's ferry", Item.Status.PUBLISHED), other, True)
    now = timezone.now()
    by_default.__class__.objects.filter(pk=by_default.pk).update(approved_at=now - timedelta(days=1))
    by_other.__class__.objects.filter(pk=by_other.pk).update(approved_at=now)  # approved last
    response = client.get(reverse("gallery:home"))
    assert response.context["featured"] == by_default
    assert "AI colorization by unet-default" in response.content.decode()


def test_a_foreign_host_header_answers_400(settings):
    """Django refuses a Host that is not in ALLOWED_HOSTS before any middleware has set request.user; the 400
    page must render without it (it was a 500)."""
    settings.DEBUG = False
    visitor = Client(raise_request_exception=False)
    for path in ("/", "/api/items/", "/accounts/login/"):
        response = visitor.get(path, HTTP_HOST="attacker.example")
        assert response.status_code == 400 and "Bad request" in response.content.decode(), path


def test_deeply_nested_hints_answer_400(staff_client):
    """JSON nested deeper than Python's recursion limit is refused as bad input (it was a 500)."""
    model = ColorModel.objects.create(name="unet-a", checkpoint="models/a.pt", is_default=True)
    item = stub_item("Dock cranes", Item.Status.DRAFT)
    nested = "[" * 100_000 + "]" * 100_000
    page = staff_client.post(
        reverse("jobs:submit", args=[item.pk]), {"models": [model.pk], "hints": nested}, follow=True
    )  # a refused form goes back to the item page with the reason (its marks kept when they fit the session)
    assert page.status_code == 200 and "nested too deeply" in page.content.decode()
    assert nested not in page.content.decode()
    body = f'{{"item": {item.pk}, "models": ["unet-a"], "hints": {nested}}}'
    api = staff_client.post("/api/requests/", body, content_type="application/json")
    assert api.status_code == 400 and "nested too deeply" in api.json()["detail"], api.content[:300]
    assert not ColorizationRequest.objects.exists()


def test_a_metadata_edit_racing_the_preview_worker_keeps_the_previews(staff_client, tmp_path):
    """The edit form saved the whole row it had read: previews and sizes stored meanwhile were erased."""
    from django.core.files.base import ContentFile
    from django.db.models.signals import pre_save

    from portal.catalog.forms import ItemForm

    item = Item.objects.create(
        title="Quay", sha256="e" * 64, original_name="quay.png", type=Item.Type.STILL_IMAGE
    )
    raced = []

    def worker_stores_previews(sender, instance, **kwargs):  # between the edit's read and its save
        if raced:
            return
        raced.append(True)
        worker = Item.objects.get(pk=instance.pk)
        worker.preview.save("quay-preview.jpg", ContentFile(b"jpeg"), save=False)
        worker.width, worker.height = 96, 72
        worker.save(update_fields=["preview", "width", "height"])  # as workers.tasks.make_previews does

    pre_save.connect(worker_stores_previews, sender=Item)
    try:
        form = {k: v for k, v in ItemForm(instance=item).initial.items() if v is not None}
        answer = staff_client.post(
            reverse("catalog:item_edit", args=[item.pk]), {**form, "title": "Quay at dawn"}
        )
    finally:
        pre_save.disconnect(worker_stores_previews, sender=Item)
    assert answer.status_code == 302 and raced, answer.context and answer.context["form"].errors
    item.refresh_from_db()
    assert item.title == "Quay at dawn"
    assert item.preview.name and (item.width, item.height) == (96, 72)


# ------------------------------------------------------------------ second round


def test_a_picture_over_the_pixel_limit_tells_staff_the_limit_and_whom_to_ask(
    staff_client, tmp_path, monkeypatch
):
    """Told staff to set COLORARCHIVE_MAX_MEGAPIXELS, a server setting they cannot change."""
    from colorization.media import policy

    monkeypatch.setattr(policy, "MAX_PIXELS", 2_000_000)
    path = tmp_path / "wide.png"
    Image.new("L", (3000, 1000)).save(path)
    page = _upload(staff_client, path).content.decode()
    assert "wide.png: refused: the picture is too large (3 megapixels, 3000x1000)" in page, page[-3000:]
    assert "this archive&#x27;s limit of 2 megapixels; ask an administrator" in page
    assert "COLORARCHIVE_" not in page and not Item.objects.exists()


def test_waiting_requests_in_the_list_say_how_many_are_ahead(staff_client):
    """Showed 0% for a waiting request, and no place in the queue."""
    model = ColorModel.objects.create(name="unet", checkpoint="models/a.pt", is_default=True)
    running = ColorizationRequest.objects.create(
        item=stub_item("Dock", "draft"), model=model, status="running"
    )
    first, second = (
        ColorizationRequest.objects.create(item=stub_item(t, "draft"), model=model, status="pending")
        for t in ("Ferry", "Quay")
    )
    page = staff_client.get(reverse("jobs:requests")).content.decode()
    row = {r.pk: page.split(f'data-job="{r.pk}"')[1].split("</tr>")[0] for r in (running, first, second)}
    assert "waiting, 1 ahead" in row[first.pk] and "waiting, 2 ahead" in row[second.pk], row
    assert "0%" not in row[second.pk] and "ahead" not in row[running.pk]


def test_film_segments_show_half_open_ranges_clearly(staff_client):
    """Showed "0–300" and "300–360": the shared frame read as an overlap."""
    from portal.jobs.models import Segment

    film = stub_item("Tram", "draft", type=Item.Type.MOVING_IMAGE, frame_count=360, duration=14.4)  # 25 fps
    req = ColorizationRequest.objects.create(item=film, model=ColorModel.objects.create(name="unet"))
    for index, (start, end) in enumerate([(0, 300), (300, 360)]):
        Segment.objects.create(request=req, index=index, start_frame=start, end_frame=end)
    page = staff_client.get(req.get_absolute_url()).content.decode()
    assert "<td data-frames>0–299</td>" in page and "<td data-frames>300–359</td>" in page
    assert "0:00.0–0:12.0" in page and "0:12.0–0:14.4" in page


def test_the_public_page_says_hints_guided_the_colorization_and_offers_it_for_download(client):
    """Said nothing of the staff's hints, and offered only the original for download."""
    model = ColorModel.objects.create(name="unet", checkpoint="models/a.pt", is_default=True)
    item = stub_item("Dock", Item.Status.PUBLISHED)
    req = stub_result(item, model, True)
    req.options = {"hints": {"points": [{"x": 0.5, "y": 0.5, "color": "#aa0000"}]}}
    req.save()
    page = client.get(item.get_absolute_url()).content.decode()
    assert "Museum staff guided them with colour hints (1 colour hint" in page, page[-3000:]
    download = reverse("gallery:result_file", args=[req.pk, "result"]) + "?download=1"
    assert download in page
    response = client.get(download)
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]


@pytest.mark.parametrize(
    "name, title",
    [
        ("IMG_0042_Market-day_(1910).png", "Market-day (1910)"),
        ("DSC01234 St. Mary's, 1923.png", "St. Mary's, 1923"),
        ("IMG_0042.png", "IMG 0042"),  # nothing but the camera's name: kept
        ("harbour_1923.png", "harbour 1923"),
    ],
)
def test_titles_made_from_file_names_drop_camera_prefixes_and_keep_punctuation(
    staff_client, tmp_path, name, title
):
    """Kept "IMG 0042" in front and turned hyphens into spaces: "IMG 0042 Market day (1910)"."""
    _upload(staff_client, make_photo(tmp_path / name))
    assert Item.objects.get().title == title


def test_a_new_collections_slug_is_made_from_its_title(staff_client):
    """The slug had to be typed by hand: a collection posted without one was refused."""
    from portal.catalog.models import Collection

    page = staff_client.get(reverse("catalog:collection_new")).content.decode()
    assert 'data-slug-from="title"' in page  # the page fills it in as the title is typed
    response = staff_client.post(
        reverse("catalog:collection_new"), {"title": "Harbour & Docks, 1923", "slug": ""}
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Collection.objects.get().slug == "harbour-docks-1923"
    again = staff_client.post(
        reverse("catalog:collection_new"), {"title": "Harbour & Docks, 1923"}
    ).content.decode()
    assert "“harbour-docks-1923” is taken by another collection" in again


def test_the_training_run_page_shows_stored_values_in_words_not_python_dicts(admin_client_):
    """Printed the dataset summary as {'train': 900, 'val': 100}."""
    from portal.jobs.models import TrainingRun

    run = TrainingRun.objects.create(
        name="retrain", overrides={"lr": 0.0003, "augment": True},
        dataset={"counts": {"train": 900, "val": 100}, "sources": 3}, metrics={"val_mae": 4.12345},
    )  # fmt: skip
    page = admin_client_.get(reverse("jobs:training_run", args=[run.pk])).content.decode()
    settings_card = page[
        page.index("<h2>Metrics</h2>") : page.index("</div>", page.index("<h2>Settings</h2>"))
    ]
    assert "<dd>dataset counts</dd>" not in settings_card  # (the key is a <dt>)
    assert re.search(r"<dd>(train 900 · val 100|val 100 · train 900)</dd>", settings_card), settings_card
    assert "<dd>yes</dd>" in settings_card and "<td>4.1235</td>" in settings_card, settings_card
    assert "{&#x27;" not in page and "{'" not in page
