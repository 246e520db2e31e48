"""Requests refused before their body is read (413 from Content-Length, anonymous POSTs), the one upload
temp folder and its sweeper, sign-in lockouts (django-axes), and API tokens that are throttled, expire and
can be revoked."""

from __future__ import annotations

import os
import socket
import time
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token

from portal.tokens import digest, issue


def _raw_post(live_server, path: str, length: int, cookies: str = "", extra: str = "") -> str:
    """Send only the headers of a POST announcing `length` bytes and return the answer's status line and
    headers. A server that tried to read the body first would never answer (the socket's timeout fails it)."""
    url = urlparse(live_server.url)
    with socket.create_connection((url.hostname, url.port), timeout=20) as sock:
        head = (f"POST {path} HTTP/1.1\r\nHost: {url.hostname}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                f"Content-Length: {length}\r\nCookie: {cookies}\r\n{extra}\r\n")  # fmt: skip
        sock.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.decode("latin-1")


@pytest.fixture
def staff_cookies(transactional_db, client, django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("curator", "c@example.org", "tide-lantern-basalt-47")
    user.groups.add(Group.objects.get_or_create(name="staff")[0])
    client.force_login(user)
    return "; ".join(f"{k}={v.value}" for k, v in client.cookies.items())


def test_an_oversized_upload_is_refused_from_its_content_length(live_server, staff_cookies, settings):
    answer = _raw_post(live_server, "/catalog/upload/", settings.MAX_UPLOAD_BYTES + 1, staff_cookies)
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert not list(settings.FILE_UPLOAD_TEMP_DIR.iterdir())  # nothing reached the disk
    answer = _raw_post(live_server, "/api/items/", 3 * 1024**3, staff_cookies)
    assert answer.startswith("HTTP/1.1 413"), answer[:200]


def test_anonymous_posts_are_refused_before_their_body(live_server, transactional_db, settings):
    # the CSRF cookie every page sets does not make a visitor someone who may upload
    answer = _raw_post(live_server, "/catalog/upload/", 1024**3, "csrftoken=" + "a" * 32)
    assert answer.startswith("HTTP/1.1 302") and "/accounts/login/" in answer, answer[:300]
    answer = _raw_post(live_server, "/api/items/", 1024**3)
    assert answer.startswith("HTTP/1.1 401"), answer[:200]
    answer = _raw_post(live_server, "/api/items/", 1024**3, extra="Authorization: Token not-a-token\r\n")
    assert answer.startswith("HTTP/1.1 401"), answer[:200]
    # the sign-in form is open to everyone, with room for a form and no more
    answer = _raw_post(live_server, "/accounts/login/", 10 * 1024**2)
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert not list(settings.FILE_UPLOAD_TEMP_DIR.iterdir())


def test_signed_in_visitors_who_are_not_staff_may_not_post(client, django_user_model, db):
    visitor = django_user_model.objects.create_user("visitor", "v@example.org", "tide-lantern-basalt-47")
    client.force_login(visitor)
    assert client.post("/catalog/upload/", {"title": "x"}).status_code == 403
    response = client.post("/api/requests/", {"item": 1})
    assert response.status_code == 403 and "staff" in response.json()["detail"]


def test_sweep_uploads_removes_only_old_leftovers(settings, capsys):
    folder = settings.FILE_UPLOAD_TEMP_DIR
    old, fresh = folder / "tmp1.upload.mp4", folder / "tmp2.upload.mp4"
    old.write_bytes(b"left by a killed worker")
    fresh.write_bytes(b"an upload in progress")
    three_hours_ago = time.time() - 3 * 3600
    os.utime(old, (three_hours_ago, three_hours_ago))
    call_command("sweep_uploads")
    assert not old.exists() and fresh.exists()
    assert "Removed 1 leftover upload(s)" in capsys.readouterr().out
    fresh.unlink()


def test_sign_in_locks_out_an_account_at_an_address_not_the_whole_address(client, db, django_user_model,
                                                                          settings):  # fmt: skip
    django_user_model.objects.create_user("curator", "c@example.org", "tide-lantern-basalt-47")
    django_user_model.objects.create_user("registrar", "r@example.org", "tide-lantern-basalt-48")
    museum = {"REMOTE_ADDR": "10.0.0.1"}  # everyone behind the museum's one NAT address
    for i in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "curator", "password": f"guess-{i}"}, **museum)
    response = client.post("/accounts/login/", {"username": "curator", "password": "tide-lantern-basalt-47"},
                           **museum)  # fmt: skip
    assert response.status_code == 429 and "Too many sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # a colleague at the same address signs in (before: the address was locked for every account)
    response = client.post("/accounts/login/", {"username": "registrar", "password": "tide-lantern-basalt-48"},
                           **museum)  # fmt: skip
    assert response.status_code == 302


def test_the_token_endpoint_says_the_account_is_locked_and_for_how_long(client, staff_user, settings):
    museum = {"REMOTE_ADDR": "10.0.0.1"}
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        answer = client.post("/api/token/", {"username": "curator", "password": f"guess-{i}"}, **museum)
        assert answer.status_code == 400 and "Unable to log in" in str(answer.json())
    answer = client.post("/api/token/", {"username": "curator", "password": "guess-last"}, **museum)
    assert answer.status_code == 429 and "locked for 15 more minute(s)" in answer.json()["detail"]
    answer = client.post("/api/token/", {"username": "curator", "password": "pass-1234-word"}, **museum)
    assert answer.status_code == 429 and "'curator' from this address" in answer.json()["detail"]
    assert 14 * 60 < int(answer["Retry-After"]) <= 15 * 60


def test_api_reads_are_throttled_with_a_clear_429(client, staff_user, monkeypatch):
    from portal.tokens import ApiAccountThrottle, ApiVisitorThrottle

    monkeypatch.setitem(ApiVisitorThrottle.THROTTLE_RATES, "api-visitor", "3/minute")
    monkeypatch.setitem(ApiAccountThrottle.THROTTLE_RATES, "api-account", "5/minute")
    visitor = [client.get("/api/items/", REMOTE_ADDR="10.3.0.1") for _ in range(4)]
    assert [r.status_code for r in visitor] == [200, 200, 200, 429]
    assert "throttled" in visitor[-1].json()["detail"] and 0 < int(visitor[-1]["Retry-After"]) <= 60
    assert client.get("/api/items/", REMOTE_ADDR="10.3.0.2").status_code == 200  # another address
    auth = {"HTTP_AUTHORIZATION": f"Token {issue(staff_user)[0]}"}
    staff = [client.get("/api/requests/", REMOTE_ADDR=f"10.4.0.{i}", **auth).status_code for i in range(6)]
    assert staff == [200] * 5 + [429]  # an account counts from any address


def test_api_tokens_expire_and_can_be_revoked(client, staff_user, settings):
    cache.clear()
    answer = client.post("/api/token/", {"username": "curator", "password": "pass-1234-word"}).json()
    auth = {"HTTP_AUTHORIZATION": f"Token {answer['token']}"}
    assert client.get("/api/requests/", **auth).status_code == 200
    Token.objects.filter(key=digest(answer["token"])).update(
        created=timezone.now() - timedelta(days=settings.API_TOKEN_DAYS + 1)
    )
    response = client.get("/api/requests/", **auth)
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    fresh = client.post("/api/token/", {"username": "curator", "password": "pass-1234-word"}).json()
    assert fresh["token"] != answer["token"]
    auth = {"HTTP_AUTHORIZATION": f"Token {fresh['token']}"}
    assert client.delete("/api/token/", **auth).status_code == 204
    assert client.get("/api/requests/", **auth).status_code == 401
    assert not Token.objects.filter(user=staff_user).exists()


def test_api_tokens_are_stored_hashed_and_shown_once(client, staff_user):
    answer = client.post("/api/token/", {"username": "curator", "password": "pass-1234-word"}).json()
    stored = Token.objects.get(user=staff_user).key
    assert stored == digest(answer["token"]) and answer["token"] not in stored
    again = client.post("/api/token/", {"username": "curator", "password": "pass-1234-word"}).json()
    assert again["token"] != answer["token"]  # a token cannot be shown twice: a new one replaces it
    assert client.get("/api/requests/", HTTP_AUTHORIZATION=f"Token {answer['token']}").status_code == 401
    assert client.get("/api/requests/", HTTP_AUTHORIZATION=f"Token {again['token']}").status_code == 200
    # a hash is no token: presenting what the database (or a backup) holds opens nothing
    assert (
        client.get("/api/requests/", HTTP_AUTHORIZATION=f"Token {digest(again['token'])}").status_code == 401
    )


def test_tokens_issued_before_hashing_are_hashed_and_keep_working(client, staff_user):
    from importlib import import_module

    from django.apps import apps

    old = Token.objects.create(user=staff_user)  # as DRF stored it: the token itself
    import_module("portal.catalog.migrations.0009_hash_api_tokens").hash_tokens(apps, None)
    assert not Token.objects.filter(key=old.key).exists()
    assert Token.objects.get(user=staff_user).key == digest(old.key)
    assert client.get("/api/requests/", HTTP_AUTHORIZATION=f"Token {old.key}").status_code == 200


def test_a_password_change_revokes_the_token(client, staff_user):
    auth = {"HTTP_AUTHORIZATION": f"Token {issue(staff_user)[0]}"}
    client.force_login(staff_user)  # signing in (last_login saved) leaves the token alone
    client.logout()
    assert client.get("/api/requests/", **auth).status_code == 200
    staff_user.set_password("a-new-harbour-phrase-91")
    staff_user.save()
    assert client.get("/api/requests/", **auth).status_code == 401
    assert not Token.objects.filter(user=staff_user).exists()
    # through the password change page too
    auth = {"HTTP_AUTHORIZATION": f"Token {issue(staff_user)[0]}"}
    client.force_login(staff_user)
    response = client.post("/accounts/password_change/", {"old_password": "a-new-harbour-phrase-91",
                           "new_password1": "tide-lantern-basalt-51", "new_password2": "tide-lantern-basalt-51"})  # fmt: skip
    assert response.status_code == 302
    assert client.get("/api/requests/", **auth).status_code == 401


def test_token_requests_are_throttled_per_account_and_per_address(client, staff_user):
    cache.clear()
    statuses = [
        client.post(
            "/api/token/", {"username": "curator", "password": "pass-1234-word"}, REMOTE_ADDR=f"10.1.0.{i}"
        ).status_code  # fmt: skip
        for i in range(1, 13)
    ]
    assert statuses[:10] == [200] * 10 and statuses[-1] == 429  # one account, many addresses
    statuses = [
        client.post(
            "/api/token/", {"username": f"nobody{i}", "password": "x"}, REMOTE_ADDR="10.2.0.1"
        ).status_code
        for i in range(22)
    ]
    assert 429 in statuses and statuses[-1] == 429  # one address, many accounts
    cache.clear()


def test_upload_pages_state_the_limit_before_a_file_is_chosen(staff_client, settings):
    for url in ("/catalog/upload/", "/catalog/import/"):
        html = staff_client.get(url).content.decode()
        assert f"At most {settings.MAX_UPLOAD_BYTES // 2**20} MB per upload" in html
        assert f'data-max-bytes="{settings.MAX_UPLOAD_BYTES}"' in html  # site.js refuses larger selections
