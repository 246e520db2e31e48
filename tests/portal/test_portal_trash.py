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


# ------------------------------------------------------------------ the staff Trash in the portal


def _public_views(client, item: Item) -> dict[str, bool]:
    """Where the public (and the staff catalogue) would show the item: True where it is listed or served."""
    from tests.support.catalog import sitemap_locs

    sitemap = [
        loc for section in sitemap_locs(client, "/sitemap.xml") for loc in sitemap_locs(client, section)
    ]
    return {
        "page": client.get(f"/items/{item.pk}/").status_code == 200,
        "home": item.title in client.get("/").content.decode(),
        "collection": item.title in client.get("/collections/harbour/").content.decode(),
        "search": item.title in client.get("/search/?q=dock").content.decode(),
        "sitemap": any(loc.endswith(f"/items/{item.pk}/") for loc in sitemap),
        "iiif": client.get(f"/iiif/items/{item.pk}/manifest").status_code == 200,
        "api": item.pk in [i["id"] for i in client.get("/api/items/").json()["results"]],
        "api item": client.get(f"/api/items/{item.pk}/").status_code == 200,
        "catalogue.json": item.title in b"".join(client.get("/catalogue.json").streaming_content).decode(),
    }


def test_staff_move_an_item_to_the_trash_from_its_page_see_it_there_and_restore_it(
    client, staff_client, staff_user, archive, django_capture_on_commit_callbacks
):
    dock = archive["dock"]
    anonymous = type(client)()
    assert all(_public_views(anonymous, dock).values()), _public_views(anonymous, dock)
    page = staff_client.get(f"/catalog/items/{dock.pk}/").content.decode()
    assert reverse("catalog:item_trash", args=[dock.pk]) in page
    confirm = staff_client.get(reverse("catalog:item_trash", args=[dock.pk]))  # asks first, changes nothing
    assert "Move “Dock cranes” to the Trash?" in confirm.content.decode() and Item.objects.filter(pk=dock.pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("catalog:item_trash", args=[dock.pk]), follow=True)
    text = response.content.decode()
    assert "“Dock cranes” was moved to the Trash" in text and "deleted" not in text
    assert not Item.objects.filter(pk=dock.pk).exists()
    assert "Dock cranes" not in staff_client.get("/catalog/?q=dock").content.decode()
    assert not ColorizationRequest.objects.filter(item_id=dock.pk).exists()
    gone = _public_views(anonymous, dock)
    assert not any(gone.values()), gone

    trash_page = staff_client.get(reverse("catalog:trash")).content.decode()
    entry = TrashEntry.objects.get(kind="item", object_id=dock.pk)
    assert (
        f'data-trash-entry="{entry.pk}"' in trash_page
        and "Dock cranes" in trash_page
        and "curator" in trash_page
    )
    assert entry.deleted_at.strftime("%Y-%m-%d %H:%M") in trash_page
    assert reverse("catalog:trash_purge", args=[entry.pk]) not in trash_page  # staff restore; admins purge

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("catalog:trash_restore", args=[entry.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("catalog:item", args=[dock.pk])
    entry.refresh_from_db()
    assert entry.restored_by == staff_user and entry.state == "restored"
    assert all(_public_views(anonymous, dock).values()), _public_views(anonymous, dock)
    assert "Dock cranes" in staff_client.get("/catalog/?q=dock").content.decode()
    assert "Dock cranes" not in staff_client.get(reverse("catalog:trash")).content.decode()


def test_only_admins_purge_by_hand(staff_client, admin_client, archive, django_capture_on_commit_callbacks):
    draft = archive["draft"]
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(reverse("catalog:item_trash", args=[draft.pk]))
    entry = TrashEntry.objects.get(kind="item", object_id=draft.pk)
    assert staff_client.post(reverse("catalog:trash_purge", args=[entry.pk])).status_code == 403
    entry.refresh_from_db()
    assert entry.state == "in the trash" and all(draft.original.storage.exists(t) for _, t in entry.files)

    assert (
        reverse("catalog:trash_purge", args=[entry.pk])
        in admin_client.get(reverse("catalog:trash")).content.decode()
    )
    page = admin_client.post(reverse("catalog:trash_purge", args=[entry.pk]), follow=True).content.decode()
    entry.refresh_from_db()
    assert entry.state == "purged" and not any(draft.original.storage.exists(t) for _, t in entry.files)
    assert "Purged" in page and "The Trash is empty." in page
    page = staff_client.post(reverse("catalog:trash_restore", args=[entry.pk]), follow=True).content.decode()
    assert "already purged" in page and not Item.objects.filter(pk=draft.pk).exists()


def test_the_admins_delete_says_moved_to_the_trash(admin_client, archive, django_capture_on_commit_callbacks):
    dock, film = archive["dock"], archive["film"]
    confirm = admin_client.get(reverse("admin:catalog_item_delete", args=[dock.pk])).content.decode()
    assert "to the Trash?" in confirm and "Are you sure you want to delete" not in confirm
    with django_capture_on_commit_callbacks(execute=True):
        one = admin_client.post(
            reverse("admin:catalog_item_delete", args=[dock.pk]), {"post": "yes"}, follow=True
        )
    assert "“Dock cranes” was moved to the Trash" in one.content.decode()
    assert "deleted successfully" not in one.content.decode()

    changelist = reverse("admin:catalog_item_changelist")
    actions = admin_client.get(changelist).content.decode()
    assert "Move the selected items to the Trash" in actions and "Delete selected" not in actions
    with django_capture_on_commit_callbacks(execute=True):
        confirm = admin_client.post(changelist, {"action": "delete_selected", "_selected_action": [film.pk]})
        assert confirm.status_code == 200 and Item.objects.filter(pk=film.pk).exists()  # asked first
        bulk = admin_client.post(
            changelist,
            {"action": "delete_selected", "_selected_action": [film.pk], "post": "yes"},
            follow=True,
        )
    assert "1 item was moved to the Trash" in bulk.content.decode()
    assert "Successfully deleted" not in bulk.content.decode()
    assert TrashEntry.objects.filter(kind="item", object_id=film.pk).exists()

    req = archive["draft_result"]
    with django_capture_on_commit_callbacks(execute=True):
        result = admin_client.post(
            reverse("admin:jobs_colorizationrequest_delete", args=[req.pk]), {"post": "yes"}, follow=True
        )
    assert "was moved to the Trash" in result.content.decode()
