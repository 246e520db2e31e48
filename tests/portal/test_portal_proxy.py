"""The nginx configuration compose runs: Debian's nginx accepts it (`nginx -t`), and its body limit is the
app's upload limit, both from COLORARCHIVE_MAX_UPLOAD_MB. A real nginx started from it, in front of the app
(pytest-django's live server), refuses anonymous uploads before it buffers their bodies and still takes staff's."""

from __future__ import annotations

import select
import socket
import ssl
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import requests
from PIL import Image

from tests.support.proxy import COMPOSE, compose_nginx_env, needs_nginx, nginx_in_front_of, nginx_log, render


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _stream_post(port: int, path: str, total: int, headers: str = "") -> tuple[int, str]:
    """POST a body of `total` bytes over TLS, made 64 KB at a time by a generator (never held in memory), and
    read the answer as soon as one comes, as a client that watches its socket would. Returns how many bytes of
    the body were sent by then, and the answer's status line and headers."""
    blocks = (b"\0" * 65536 for _ in range(total // 65536))
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=60) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {total}\r\n"
                         f"Content-Type: application/octet-stream\r\n{headers}\r\n".encode())  # fmt: skip
            sock.setblocking(False)
            sent, pending, answer = 0, b"", b""
            while b"\r\n\r\n" not in answer:
                readable, writable, _ = select.select([sock], [sock] if sent < total else [], [], 60)
                assert readable or writable, "nginx neither answered nor read for 60 s"
                if readable or sock.pending():
                    try:
                        chunk = sock.recv(65536)
                    except ssl.SSLWantReadError:  # a TLS record without data (a session ticket)
                        continue
                    if not chunk:
                        break
                    answer += chunk
                elif writable:
                    pending = pending or next(blocks)
                    try:
                        written = sock.send(pending)
                    except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                        continue
                    sent, pending = sent + written, pending[written:]
    return sent, answer.decode("latin-1")


@needs_nginx
def test_nginx_accepts_the_generated_config(tmp_path, settings):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(tmp_path / "privkey.pem"), "-out", str(tmp_path / "fullchain.pem")],
                   check=True, capture_output=True)  # fmt: skip
    limit_mb = settings.MAX_UPLOAD_BYTES // 2**20
    values = {**compose_nginx_env(), "COLORARCHIVE_MAX_UPLOAD_MB": str(limit_mb),
              "COLORARCHIVE_SERVER_NAME": "archive.example", "COLORARCHIVE_UPSTREAM": "127.0.0.1:8000",
              "COLORARCHIVE_TLS_DIR": str(tmp_path), "COLORARCHIVE_MEDIA_DIR": str(tmp_path)}  # fmt: skip
    conf = tmp_path / "nginx.conf"
    conf.write_text(render(values))
    out = subprocess.run(["nginx", "-t", "-c", str(conf)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "test is successful" in out.stderr
    text = conf.read_text()
    assert f"client_max_body_size {limit_mb}m;" in text
    assert "internal;" in text and "ssl_certificate " in text and "client_header_timeout" in text


def test_compose_gives_the_proxy_and_the_app_the_same_upload_limit():
    text = COMPOSE.read_text()
    app_env = text.split("x-app-env: &app-env\n", 1)[1].split("\n\n", 1)[0]
    limit = "${COLORARCHIVE_MAX_UPLOAD_MB:-2048}"
    assert f"COLORARCHIVE_MAX_UPLOAD_MB: {limit}" in app_env
    assert compose_nginx_env()["COLORARCHIVE_MAX_UPLOAD_MB"] == limit
    assert 'COLORARCHIVE_MEDIA_ACCEL: "1"' in app_env
    web = text.split("\n  web:\n", 1)[1].split("\n\n", 1)[0]
    assert "ports:" not in web  # only nginx is published


def test_compose_restarts_and_health_checks_every_service_and_splits_broker_and_cache():
    """A killed worker container comes back by itself (issue 30: compose had no restart policy), each long-running
    service says whether it is healthy, and the broker and the cache are separate logical roles."""
    import yaml

    compose = yaml.safe_load(COMPOSE.read_text())
    for name, service in compose["services"].items():
        assert service.get("restart") in {"unless-stopped", "always", "on-failure"}, name
        if service.get("restart") != "on-failure":  # one-shot set-up jobs only restart until they succeed
            assert service.get("healthcheck", {}).get("test"), name
    env = compose["x-app-env"]
    broker, cache = urlparse(env["REDIS_URL"]), urlparse(env["REDIS_CACHE_URL"])
    assert (broker.hostname, broker.port) == (cache.hostname, cache.port) and broker.path != cache.path
    assert {"worker-cpu", "worker-gpu", "beat"} <= set(compose["services"])


@needs_nginx
def test_nginx_refuses_anonymous_uploads_before_buffering_them(
    live_server, transactional_db, tmp_path, settings
):
    big = 600 * 2**20
    with nginx_in_front_of(live_server, tmp_path / "nginx", settings.MEDIA_ROOT, 2048) as port:
        for path, headers, status in [
            ("/api/items/", "", "401"),  # an upload location: the app is asked from the headers
            ("/api/items/", "Authorization: Token not-a-token\r\n", "401"),
            ("/catalog/upload/", "Cookie: csrftoken=" + "a" * 32 + "\r\n", "401"),
            ("/catalog/items/1/edit/", "", "413"),  # any other page: the small limit, from Content-Length
        ]:
            sent, answer = _stream_post(port, path, big, headers)
            assert answer.startswith(f"HTTP/1.1 {status}"), (
                path,
                answer[:300],
                nginx_log(tmp_path / "nginx"),
            )
            assert sent < 64 * 2**20, f"{path}: {sent / 2**20:.0f} MB sent before nginx answered"
            assert _folder_bytes(tmp_path / "nginx") < 2**20, "nginx buffered the body"
    assert not list(settings.FILE_UPLOAD_TEMP_DIR.iterdir())


@needs_nginx
def test_staff_upload_larger_than_the_small_limit_passes_nginx(live_server, transactional_db, tmp_path, settings,
                                                                 staff_user):  # fmt: skip
    from portal.catalog.models import Item
    from portal.tokens import issue

    noise = np.random.default_rng(7).integers(0, 256, (1600, 1600, 3), dtype=np.uint8)
    photo = tmp_path / "survey 1911.png"
    Image.fromarray(noise).save(photo)  # incompressible: about 7.7 MB
    assert photo.stat().st_size > 4 * 2**20  # more than nginx lets anyone send elsewhere
    with nginx_in_front_of(live_server, tmp_path / "nginx", settings.MEDIA_ROOT, 2048) as port:
        with open(photo, "rb") as f:
            answer = requests.post(f"https://127.0.0.1:{port}/api/items/", files={"file": f},
                                   data={"title": "Survey"}, headers={"Host": "localhost",
                                   "Authorization": f"Token {issue(staff_user)[0]}"}, verify=False, timeout=120)  # fmt: skip
    assert answer.status_code in (201, 202), answer.text[:500]
    assert Item.objects.get(pk=answer.json()["id"]).size == photo.stat().st_size


SECURITY_HEADERS = ["Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options",
                    "Cross-Origin-Opener-Policy"]  # fmt: skip


@needs_nginx
def test_files_sent_by_nginx_keep_the_apps_security_headers(
    live_server, transactional_db, tmp_path, settings
):
    from django.core.files.base import ContentFile

    from portal.catalog.models import Item

    settings.MEDIA_ACCEL = True
    film = bytes(range(256)) * 40
    item = Item(title="Reel", status=Item.Status.PUBLISHED, sha256="d" * 64, original_name="reel 1923.mp4",
                type=Item.Type.MOVING_IMAGE)  # fmt: skip
    item.original.save("reel.mp4", ContentFile(film), save=False)
    item.save()
    path = f"/files/items/{item.pk}/original?download=1"
    from_app = requests.get(live_server.url + path, timeout=30)
    assert from_app.headers["X-Accel-Redirect"] and from_app.content == b""
    with nginx_in_front_of(live_server, tmp_path / "nginx", settings.MEDIA_ROOT, 2048) as port:
        answer = requests.get(f"https://127.0.0.1:{port}{path}", headers={"Host": "localhost"}, verify=False,
                              timeout=30)  # fmt: skip
    assert answer.status_code == 200 and answer.content == film, nginx_log(tmp_path / "nginx")
    for name in SECURITY_HEADERS:
        assert answer.headers.get(name) == from_app.headers[name], name
