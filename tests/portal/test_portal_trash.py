"""Deleting from the admin moves items and results to the trash (with who and when); restore puts them back
with their ids and files; purge_trash removes the files later and keeps the record."""

from __future__ import annotations

import io

import pytest
from django.core.files import File
from django.core.management import call_command
from django.urls import reverse

from portal.catalog.fixity import check_item
from portal.catalog.ingest import add_item
from portal.catalog.models import Item, TrashEntry
from portal.jobs import services
from portal.jobs.models import ColorizationRequest, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def colorized(photo_file, staff_user, model_row, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), open(photo_file, "rb") as f:
        item = add_item(File(f, name=photo_file.name), user=staff_user, title="Harbour")
    with django_capture_on_commit_callbacks(execute=True):
        (req,) = services.submit(staff_user, item, [model_row])
    req.refresh_from_db()
    assert req.status == Status.DONE
    return item, req


def test_deleting_an_item_moves_it_and_its_results_to_the_trash_and_restore_brings_them_back(
    admin_client, admin_user, colorized, django_capture_on_commit_callbacks
):
    item, req = colorized
    storage = item.original.storage
    original, result = item.original.name, req.result.name
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:catalog_item_delete", args=[item.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Item.objects.exists() and not ColorizationRequest.objects.exists()
    entry = TrashEntry.objects.get()
    assert (entry.kind, entry.object_id, entry.deleted_by, entry.label) == (
        "item",
        item.pk,
        admin_user,
        "Harbour",
    )
    assert not storage.exists(original) and all(storage.exists(trashed) for _, trashed in entry.files)
    assert {name for name, _ in entry.files} >= {original, result}

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:catalog_trashentry_changelist"),
            {"action": "restore", "_selected_action": [entry.pk]},
        )
    back = Item.objects.get(pk=item.pk)
    assert back.sha256 == item.sha256 and storage.exists(original) and check_item(back) == ""
    again = ColorizationRequest.objects.get(pk=req.pk)
    assert again.status == Status.DONE and storage.exists(again.result.name)
    entry.refresh_from_db()
    assert entry.restored_by == admin_user and entry.state == "restored"
    assert not any(storage.exists(trashed) for _, trashed in entry.files)  # the copies are gone once restored


def test_purge_removes_trashed_files_later_and_keeps_the_record(
    admin_client, colorized, django_capture_on_commit_callbacks
):
    item, req = colorized
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:jobs_colorizationrequest_delete", args=[req.pk]), {"post": "yes"})
    entry = TrashEntry.objects.get(kind="result")
    assert Item.objects.filter(pk=item.pk).exists() and not ColorizationRequest.objects.exists()
    out = io.StringIO()
    call_command("purge_trash", stdout=out)  # younger than COLORARCHIVE_TRASH_DAYS: kept
    assert "0 trash entries purged" in out.getvalue()
    call_command("purge_trash", days=0, stdout=out)
    entry.refresh_from_db()
    assert entry.state == "purged" and not any(item.original.storage.exists(t) for _, t in entry.files)
    page = admin_client.post(
        reverse("admin:catalog_trashentry_changelist"),
        {"action": "restore", "_selected_action": [entry.pk]},
        follow=True,
    ).content.decode()
    assert "already purged" in page and not ColorizationRequest.objects.exists()
