"""A waiting colorization shows its place on the queue and a rough wait from recent run times."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.catalog.models import Item
from portal.jobs.models import ColorizationRequest, ColorModel, Status, TrainingRun
from tests.support.catalog import stub_item

pytestmark = pytest.mark.django_db


def test_waiting_requests_show_their_place_and_an_estimate(staff_client):
    model = ColorModel.objects.create(name="unet-a", checkpoint="models/a.pt", is_default=True)
    item = stub_item("Dock", Item.Status.DRAFT)
    now = timezone.now()
    for minutes in (2, 4):  # two finished runs: a median of 3 minutes
        ColorizationRequest.objects.create(item=item, model=model, preset="photo", status=Status.DONE,
                                           started=now - timedelta(minutes=minutes), finished=now)  # fmt: skip
    ColorizationRequest.objects.create(item=item, model=model, preset="photo", status=Status.RUNNING)
    first = ColorizationRequest.objects.create(item=item, model=model, preset="photo")
    second = ColorizationRequest.objects.create(item=item, model=model, preset="photo")

    page = staff_client.get(reverse("jobs:request", args=[second.pk])).content.decode()
    assert "3rd in the queue, starts in about 6 min" in page  # one running and one waiting ahead
    page = staff_client.get(reverse("catalog:item", args=[item.pk])).content.decode()
    assert "2nd in the queue, starts in about 3 min" in page and "3rd in the queue" in page

    TrainingRun.objects.create(name="retrain", status=Status.RUNNING, created=now - timedelta(hours=1))
    TrainingRun.objects.filter(name="retrain").update(created=now - timedelta(hours=1))
    page = staff_client.get(reverse("jobs:request", args=[first.pk])).content.decode()
    assert "2nd in the queue, starts in about 3 min, after a training run" in page
    done_page = staff_client.get(reverse("jobs:request", args=[item.requests.filter(status="done")[0].pk]))
    assert "in the queue" not in done_page.content.decode()
