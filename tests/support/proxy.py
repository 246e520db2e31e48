"""nginx as compose runs it, from docker/nginx/nginx.conf.template, in front of the test's live server."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.support import ROOT
from tests.support.services import port_open, spare_port, wait_for

TEMPLATE = ROOT / "docker" / "nginx" / "nginx.conf.template"
COMPOSE = ROOT / "docker" / "compose.yaml"


def render(values: dict[str, str]) -> str:
    """What the nginx image's envsubst makes of the template: only the variables it is given are replaced."""
    text = TEMPLATE.read_text()
    used = set(re.findall(r"\$\{(COLORARCHIVE_\w+)\}", text))
    assert used <= set(values), f"the template needs {sorted(used - set(values))}"
    return re.sub(r"\$\{(COLORARCHIVE_\w+)\}", lambda m: values[m.group(1)], text)


def compose_nginx_env() -> dict[str, str]:
    block = COMPOSE.read_text().split("\n  nginx:\n", 1)[1].split("\n  web:\n", 1)[0]
    return dict(re.findall(r"^      (COLORARCHIVE_\w+): (\S+)", block, re.M))


needs_nginx = pytest.mark.service("nginx", "the proxy tests run the nginx compose runs")


def _self_signed(folder: Path) -> None:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(folder / "privkey.pem"), "-out", str(folder / "fullchain.pem")],
                   check=True, capture_output=True)  # fmt: skip


@contextmanager
def nginx_in_front_of(live_server, folder: Path, media_dir: Path, limit_mb: int) -> Iterator[int]:
    """nginx from the template, on spare loopback ports, proxying to the live server; yields its HTTPS port.
    Its temp folders (client_body_temp: buffered request bodies) are under `folder`."""
    folder.mkdir()
    _self_signed(folder)
    app = urlparse(live_server.url)
    values = {**compose_nginx_env(), "COLORARCHIVE_MAX_UPLOAD_MB": str(limit_mb),
              "COLORARCHIVE_SERVER_NAME": "localhost", "COLORARCHIVE_UPSTREAM": f"{app.hostname}:{app.port}",
              "COLORARCHIVE_TLS_DIR": str(folder), "COLORARCHIVE_MEDIA_DIR": str(media_dir)}  # fmt: skip
    http_port, https_port = spare_port(), spare_port()
    text = render(values).replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    (folder / "nginx.conf").write_text(text.replace("listen 443 ", f"listen 127.0.0.1:{https_port} "))
    directives = f"daemon off; pid {folder}/nginx.pid;" + (" user root;" if os.geteuid() == 0 else "")
    with open(folder / "nginx.log", "wb") as log:
        proc = subprocess.Popen(["nginx", "-e", "stderr", "-p", str(folder), "-c", str(folder / "nginx.conf"),
                                 "-g", directives], stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_for(lambda: port_open("127.0.0.1", https_port) or proc.poll() is not None, timeout=30)
        assert proc.poll() is None, (folder / "nginx.log").read_text()
        yield https_port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def nginx_log(folder: Path) -> str:
    return (folder / "nginx.log").read_text()[-2000:]
