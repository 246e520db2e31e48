"""Files: the app answers HTTP Range itself (runserver, tests); behind the proxy it answers X-Accel-Redirect
and the proxy sends the bytes. Public files carry caching headers, staff-only ones do not."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from portal.catalog.models import Item

pytestmark = pytest.mark.django_db

FILM = bytes(range(256)) * 40  # 10,240 bytes


def _item(status: str) -> Item:
    item = Item(title="Reel", status=status, sha256=("b" if status == "draft" else "c") * 64,
                original_name="reel 1923.mp4", type=Item.Type.MOVING_IMAGE)  # fmt: skip
    item.original.save("reel.mp4", ContentFile(FILM), save=False)
    item.save()
    return item


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_range_requests_get_206_with_the_asked_bytes(client):
    url = f"/files/items/{_item(Item.Status.PUBLISHED).pk}/original"
    whole = client.get(url)
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes" and _body(whole) == FILM
    part = client.get(url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 100-199/{len(FILM)}"
    assert part["Content-Length"] == "100" and _body(part) == FILM[100:200]
    tail = client.get(url, HTTP_RANGE="bytes=-24")
    assert tail.status_code == 206 and _body(tail) == FILM[-24:]
    rest = client.get(url, HTTP_RANGE="bytes=10000-")
    assert rest["Content-Range"] == f"bytes 10000-{len(FILM) - 1}/{len(FILM)}" and _body(rest) == FILM[10000:]
    beyond = client.get(url, HTTP_RANGE=f"bytes={len(FILM)}-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(FILM)}"
    assert client.get(url, HTTP_RANGE="bytes=0-1,5-6").status_code == 200  # several ranges: the whole file


def test_public_files_may_be_cached_and_staff_only_ones_not(client, staff_user):
    public = client.get(f"/files/items/{_item(Item.Status.PUBLISHED).pk}/original")
    assert public["Cache-Control"].startswith("public, max-age=")
    assert 'filename="reel 1923.mp4"' in public["Content-Disposition"]
    client.force_login(staff_user)
    draft = client.get(f"/files/items/{_item(Item.Status.DRAFT).pk}/original")
    assert draft.status_code == 200 and draft["Cache-Control"] == "private, no-cache"


def test_behind_the_proxy_the_app_sends_no_bytes(client, settings):
    settings.MEDIA_ACCEL = True
    item = _item(Item.Status.PUBLISHED)
    response = client.get(f"/files/items/{item.pk}/original?download=1", HTTP_RANGE="bytes=0-9")
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == "/_media/" + item.original.name
    assert response["Content-Type"] == "video/mp4" and "attachment" in response["Content-Disposition"]
