"""Small workflow defects: colour originals are flagged, publish dates are always recorded, the public home page
lists by publish date and features the default model's result; a foreign Host header and deeply nested hints
answer 400."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image, ImageOps

from portal.catalog.models import Item
from portal.jobs.models import ColorizationRequest, ColorModel
from tests.conftest import make_photo
from tests.portal.test_portal_permissions import _item, _result

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
    older = _item("Created first, published last", Item.Status.PUBLISHED)
    newer = _item("Created last, published first", Item.Status.PUBLISHED)
    now = timezone.now()
    Item.objects.filter(pk=older.pk).update(published_at=now)
    Item.objects.filter(pk=newer.pk).update(published_at=now - timedelta(days=3))
    page = client.get(reverse("gallery:home")).content.decode()
    recent = page[page.index("Recently published") :]
    assert recent.index(older.title) < recent.index(newer.title)


def test_the_home_page_features_the_default_models_result(client):
    default = ColorModel.objects.create(name="unet-default", checkpoint="models/a.pt", is_default=True)
    other = ColorModel.objects.create(name="unet-other", checkpoint="models/b.pt")
    by_default = _result(_item("Default's dock", Item.Status.PUBLISHED), default, True)
    by_other = _result(_item("Other's ferry", Item.Status.PUBLISHED), other, True)
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
    item = _item("Dock cranes", Item.Status.DRAFT)
    nested = "[" * 100_000 + "]" * 100_000
    page = staff_client.post(reverse("jobs:submit", args=[item.pk]), {"models": [model.pk], "hints": nested})
    assert page.status_code == 400 and "nested too deeply" in page.content.decode()
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
