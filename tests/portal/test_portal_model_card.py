"""The AI label says in one plain sentence what the model is good and bad at, from the model's card: the public
item page and the staff approval screen show the same sentence (run on both databases)."""

from __future__ import annotations

from html import escape

import pytest

from colorization.model_cards import FALLBACK, PLAIN
from portal.jobs.models import ColorModel
from tests.support.catalog import add_item, add_result
from workers import tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def bundled_model():
    """The bundled default model, registered by its zoo name and read by the worker's task, as setup does."""
    model = ColorModel.objects.create(name="unet-v13", zoo_name="unet-v13", is_default=True)
    tasks.inspect_model(model.pk)
    model.refresh_from_db()
    return model


def test_the_public_label_and_the_approval_screen_show_the_cards_sentence(client, staff_client, tmp_path,
                                                                          bundled_model):  # fmt: skip
    sentence = PLAIN["unet-v13"]
    assert bundled_model.card == sentence  # stored with the model's info when the worker read the checkpoint
    item = add_item(tmp_path, "Dock cranes")
    req = add_result(tmp_path, item, bundled_model, approved=False)

    staff = staff_client.get(f"/catalog/items/{item.pk}/").content.decode()
    assert 'data-action="approve"' in staff  # the approval screen, before approving
    assert f'<span class="model-card" data-model-card>{escape(sentence)}</span>' in staff
    assert (
        f"<span data-model-card>{escape(sentence)}</span>"
        in staff_client.get(f"/jobs/requests/{req.pk}/").content.decode()
    )

    assert client.get(f"/items/{item.pk}/").status_code == 200
    assert sentence not in client.get(f"/items/{item.pk}/").content.decode()  # not approved: not public
    staff_client.post(f"/jobs/requests/{req.pk}/approve/")
    public = client.get(f"/items/{item.pk}/").content.decode()
    label = public.split("data-ai-label>", 1)[1].split("</p>", 1)[0]
    assert f"<span data-model-card>{escape(sentence)}</span>" in label


def test_a_model_trained_here_gets_the_fallback_and_an_unread_one_says_so(model_row):
    model_row.refresh_from_db()
    assert model_row.card == FALLBACK  # "tiny": no card of its own, no bundled name
    assert ColorModel(name="new").card == ColorModel.UNREAD_CARD
