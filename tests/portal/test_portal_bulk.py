"""Bulk actions in the staff catalogue: items ticked by hand or every item matching the filter, done by the
worker item by item (eager here; Chromium and a real worker in tests/portal/test_portal_browser_workflow.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.catalog.models import Collection, Item
from portal.jobs.models import BulkAction, ColorizationRequest, ColorModel, Status
from tests.support.catalog import stub_item, stub_result

pytestmark = pytest.mark.django_db


def _bulk(client, action: str, callbacks, **fields):
    with callbacks(execute=True):
        response = client.post(reverse("catalog:bulk"), {"action": action, **fields})
    return response, BulkAction.objects.order_by("-pk").first()


def test_publish_the_ticked_items_then_unpublish_them(staff_client, django_capture_on_commit_callbacks):
    a, b, c = (stub_item(t, Item.Status.DRAFT) for t in ("Dock", "Ferry", "Quay"))
    response, action = _bulk(staff_client, "publish", django_capture_on_commit_callbacks, items=[a.pk, b.pk])
    assert response.status_code == 302 and response.url == reverse("jobs:bulk", args=[action.pk])
    action.refresh_from_db()
    assert action.status == Status.DONE and action.changed == 2 and action.progress == 1.0
    assert set(Item.objects.published().values_list("title", flat=True)) == {"Dock", "Ferry"}
    assert all(i.published_at for i in Item.objects.published())
    page = staff_client.get(response.url).content.decode()
    assert "Publish" in page and "<span data-changed>2</span> changed" in page

    _, again = _bulk(staff_client, "publish", django_capture_on_commit_callbacks, items=[a.pk, c.pk])
    again.refresh_from_db()
    assert again.changed == 1 and again.report == ["Dock: published already"]
    _, off = _bulk(staff_client, "unpublish", django_capture_on_commit_callbacks, items=[a.pk, b.pk, c.pk])
    assert not Item.objects.published().exists()


def test_every_item_matching_the_filter_goes_into_a_collection(
    staff_client, django_capture_on_commit_callbacks
):
    harbour = Collection.objects.create(title="Harbour", slug="harbour")
    for title in ("Harbour crane", "Harbour ferry", "Market day"):
        stub_item(title, Item.Status.DRAFT)
    _, action = _bulk(
        staff_client, "collect", django_capture_on_commit_callbacks,
        everything="on", q="harbour", collection=harbour.pk,
    )  # fmt: skip
    action.refresh_from_db()
    assert action.changed == 2
    assert set(harbour.items.values_list("title", flat=True)) == {"Harbour crane", "Harbour ferry"}


def test_approve_the_default_models_results(staff_client, staff_user, django_capture_on_commit_callbacks):
    default = ColorModel.objects.create(name="unet-default", checkpoint="models/a.pt", is_default=True)
    other = ColorModel.objects.create(name="unet-other", checkpoint="models/b.pt")
    with_result, only_other = stub_item("Dock", Item.Status.DRAFT), stub_item("Ferry", Item.Status.DRAFT)
    mine, theirs = stub_result(with_result, default, False), stub_result(only_other, other, False)
    _, action = _bulk(
        staff_client, "approve", django_capture_on_commit_callbacks, items=[with_result.pk, only_other.pk]
    )
    action.refresh_from_db()
    mine.refresh_from_db(), theirs.refresh_from_db()
    assert mine.approved and mine.approved_by == staff_user and not theirs.approved
    assert action.report == ["Ferry: no finished result by unet-default"]


def test_approving_the_default_models_results_never_guesses_between_several(
    staff_client, django_capture_on_commit_callbacks
):
    """Approved the newest result by the default model, even one guided by hints, beside one without."""
    default = ColorModel.objects.create(name="unet-default", checkpoint="models/a.pt", is_default=True)
    dock, ferry, quay = (stub_item(t, Item.Status.DRAFT) for t in ("Dock", "Ferry", "Quay"))
    plain, hinted = stub_result(dock, default, False), stub_result(dock, default, False)
    from datetime import timedelta

    from django.utils import timezone

    plain.finished, hinted.finished = timezone.now() - timedelta(hours=1), timezone.now()
    hinted.options = {"hints": {"points": [{"x": 0.5, "y": 0.5, "color": "#aa0000"}]}}
    plain.save(), hinted.save()
    only_hinted = stub_result(ferry, default, False)
    only_hinted.options = hinted.options
    only_hinted.save()
    twice = [stub_result(quay, default, False), stub_result(quay, default, False)]
    _, action = _bulk(
        staff_client, "approve", django_capture_on_commit_callbacks, items=[dock.pk, ferry.pk, quay.pk]
    )
    action.refresh_from_db()
    approved = set(ColorizationRequest.objects.filter(approved=True).values_list("pk", flat=True))
    assert approved == {plain.pk}, (approved, plain.pk, hinted.pk)
    assert action.changed == 1 and not any(r.pk in approved for r in [hinted, only_hinted, *twice])
    assert sorted(action.report) == [
        "Ferry: only results guided by hints by unet-default: choose one on the item's page",
        "Quay: 2 results without hints by unet-default: choose one on the item's page",
    ]


def test_colorize_with_the_chosen_models(
    staff_client, model_row, photo_file, tmp_path, django_capture_on_commit_callbacks
):
    from django.core.files import File

    from portal.catalog.ingest import add_item
    from tests.support.media import make_photo

    with django_capture_on_commit_callbacks(execute=True):
        items = [
            add_item(File(open(p, "rb"), name=p.name))
            for p in (photo_file, make_photo(tmp_path / "second.png", size=(80, 60)))
        ]
    _, action = _bulk(
        staff_client, "colorize", django_capture_on_commit_callbacks,
        items=[i.pk for i in items], models=[model_row.pk],
    )  # fmt: skip
    action.refresh_from_db()
    assert action.status == Status.DONE and action.changed == 2
    reqs = ColorizationRequest.objects.filter(item__in=items, model=model_row)
    assert reqs.count() == 2 and {r.status for r in reqs} == {Status.DONE}


def test_a_bulk_colorization_sends_one_summary_notification(
    staff_client, staff_user, model_row, tmp_path, django_capture_on_commit_callbacks
):
    """Sent one notification per item queued, and one more for the action."""
    from django.core.files import File

    from portal.catalog.ingest import add_item
    from portal.jobs.models import Notification
    from tests.support.media import make_photo

    with django_capture_on_commit_callbacks(execute=True):
        items = [
            add_item(File(open(p, "rb"), name=p.name))
            for p in (make_photo(tmp_path / f"photo-{n}.png", size=(80 + n, 60)) for n in range(3))
        ]
    _, action = _bulk(
        staff_client, "colorize", django_capture_on_commit_callbacks,
        items=[i.pk for i in items], models=[model_row.pk],
    )  # fmt: skip
    assert set(action.requests.values_list("status", flat=True)) == {Status.DONE}
    (note,) = Notification.objects.filter(user=staff_user)
    assert note.message == "Bulk action “Colorize with the chosen models” on 3 item(s) is done: 3 colorized."
    assert note.url == action.get_absolute_url() and not note.failed


def test_a_bulk_action_needs_items_and_what_its_action_needs(staff_client):
    stub_item("Dock", Item.Status.DRAFT)
    response = staff_client.post(reverse("catalog:bulk"), {"action": "publish"}, follow=True)
    assert "Tick some items, or every item matching the filter." in response.content.decode()
    response = staff_client.post(
        reverse("catalog:bulk"), {"action": "collect", "everything": "on"}, follow=True
    )
    assert "Choose the collection to add the items to." in response.content.decode()
    assert not BulkAction.objects.exists()


def test_the_dashboard_offers_selection_and_the_actions(staff_client):
    item = stub_item("Dock", Item.Status.DRAFT)
    page = staff_client.get(reverse("catalog:dashboard")).content.decode()
    assert f'name="items" value="{item.pk}" form="bulk-form"' in page
    assert 'name="everything"' in page and "Approve the default model&#x27;s results" in page
