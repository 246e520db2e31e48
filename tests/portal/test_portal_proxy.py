"""The nginx configuration compose runs: Debian's nginx accepts it (`nginx -t`), and its body limit is the
app's upload limit, both from COLORARCHIVE_MAX_UPLOAD_MB."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "docker" / "nginx" / "nginx.conf.template"
COMPOSE = ROOT / "docker" / "compose.yaml"


def render(values: dict[str, str]) -> str:
    """What the nginx image's envsubst makes of the template: only the variables it is given are replaced."""
    text = TEMPLATE.read_text()
    used = set(re.findall(r"\$\{(COLORARCHIVE_\w+)\}", text))
    assert used <= set(values), f"the template needs {sorted(used - set(values))}"
    return re.sub(r"\$\{(COLORARCHIVE_\w+)\}", lambda m: values[m.group(1)], text)


def _compose_nginx_env() -> dict[str, str]:
    block = COMPOSE.read_text().split("\n  nginx:\n", 1)[1].split("\n  web:\n", 1)[0]
    return dict(re.findall(r"^      (COLORARCHIVE_\w+): (\S+)", block, re.M))


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (apt-get install nginx)")
def test_nginx_accepts_the_generated_config(tmp_path, settings):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(tmp_path / "privkey.pem"), "-out", str(tmp_path / "fullchain.pem")],
                   check=True, capture_output=True)  # fmt: skip
    limit_mb = settings.MAX_UPLOAD_BYTES // 2**20
    values = {**_compose_nginx_env(), "COLORARCHIVE_MAX_UPLOAD_MB": str(limit_mb),
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
    assert _compose_nginx_env()["COLORARCHIVE_MAX_UPLOAD_MB"] == limit
    assert 'COLORARCHIVE_MEDIA_ACCEL: "1"' in app_env
    web = text.split("\n  web:\n", 1)[1].split("\n\n", 1)[0]
    assert "ports:" not in web  # only nginx is published
