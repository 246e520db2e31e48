"""The audit trail (django-simple-history): edits, approvals, publications and promotions, with who and when, shown
on each item, request and on the Training page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.catalog.models import Item
from portal.jobs.models import ColorModel
from tests.support.catalog import stub_item, stub_result

pytestmark = pytest.mark.django_db


def test_an_items_page_shows_who_edited_and_published_it(staff_client, staff_user):
    item = stub_item("Dock", Item.Status.DRAFT)
    staff_client.post(reverse("catalog:item_edit", args=[item.pk]), {
        "title": "Dock workers, 1923", "rights": item.rights, "status": "draft", "place": "Hamburg",
    })  # fmt: skip
    staff_client.post(reverse("catalog:item_publish", args=[item.pk]))
    page = staff_client.get(reverse("catalog:item", args=[item.pk])).content.decode()
    history = page[page.index("data-history") :]
    assert (
        f"<strong>{staff_user}</strong> changed: title: Dock → Dock workers, 1923; place: — → Hamburg"
        in history
    )
    assert "status: Draft → Published" in history
    assert history.index("status: Draft → Published") < history.index("title: Dock →")  # newest first
    assert "a worker or the system</strong> created" in history  # the row made by the test, not by a person


def test_a_requests_page_shows_who_approved_it(staff_client, staff_user):
    model = ColorModel.objects.create(name="unet-a", checkpoint="models/a.pt", is_default=True)
    req = stub_result(stub_item("Dock", Item.Status.DRAFT), model, False)
    staff_client.post(reverse("jobs:request_action", args=[req.pk, "approve"]))
    staff_client.post(reverse("jobs:request_action", args=[req.pk, "unapprove"]))
    staff_client.post(reverse("jobs:request_action", args=[req.pk, "approve"]))
    page = staff_client.get(reverse("jobs:request", args=[req.pk])).content.decode()
    assert f"yes, by {staff_user}" in page
    history = page[page.index("data-history") :]
    assert history.count(f"<strong>{staff_user}</strong> changed: approved: no → yes") == 2
    assert f"approved: yes → no; approved by: {staff_user} → —" in history
    item_page = staff_client.get(reverse("catalog:item", args=[req.item_id])).content.decode()
    assert f"Approved by {staff_user}" in item_page


def test_promotions_and_rollbacks_are_recorded_with_who(admin_client_, admin_account):
    first = ColorModel.objects.create(name="unet-v6", checkpoint="models/a.pt", is_default=True)
    second = ColorModel.objects.create(name="unet-v7", checkpoint="models/b.pt")
    admin_client_.post(reverse("jobs:promote", args=[second.pk]))
    admin_client_.post(reverse("jobs:roll_back"))
    page = admin_client_.get(reverse("jobs:training")).content.decode()
    changes = page[page.index("data-promotions") :].split("</section>")[0]
    assert f"unet-v6 became the default ({admin_account})" in changes
    assert f"unet-v7 became the default ({admin_account})" in changes
    assert changes.index("unet-v6 became") < changes.index("unet-v7 became")  # the rollback is the newest
    assert first.history.filter(is_default=False, history_user=admin_account).exists()
