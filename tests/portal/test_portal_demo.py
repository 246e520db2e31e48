"""`manage.py demo`: on an empty folder, with no variables set, it sets everything up and colorizes the demo
catalogue through a real worker on the server-less filesystem broker (--no-serve stops before runserver)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "S3_", "COLORARCHIVE_", "MEDIA_"))}  # fmt: skip
    return {**env, **{k: str(v) for k, v in extra.items()}}


def _tiny_models(tmp_path: Path, tiny_model: Path) -> Path:
    """A models folder holding the tiny test model as its DEFAULT."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny.pt").write_bytes(tiny_model.read_bytes())
    (models / "DEFAULT").write_text("tiny.pt\n")
    return models


def _serve_demo(tmp_path: Path, models: Path, *args: str, **env) -> tuple[subprocess.Popen, int, Path]:
    """`manage.py demo` serving on a free loopback port, with `models` installed; its output goes to
    tmp_path/demo.out. Returns the process, the port and that file."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out_path = tmp_path / "demo.out"
    with open(out_path, "w") as out:
        demo = subprocess.Popen([sys.executable, "manage.py", "demo", f"127.0.0.1:{port}", *args], cwd=ROOT,
                                env=_clean_env(COLORARCHIVE_VAR=tmp_path / "var", COLORARCHIVE_MODELS=models,
                                               PYTHONUNBUFFERED=1, **env),
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    return demo, port, out_path


def test_demo_sets_up_seeds_and_colorizes_with_the_installed_default_model(tmp_path, tiny_model):
    models = _tiny_models(tmp_path, tiny_model)
    var = tmp_path / "var"
    out = subprocess.run([sys.executable, "manage.py", "demo", "--no-serve", "--wait", "240"], cwd=ROOT,
                         env=_clean_env(COLORARCHIVE_VAR=var, COLORARCHIVE_MODELS=models),
                         capture_output=True, text=True, timeout=400)  # fmt: skip
    log = out.stdout + out.stderr + "".join(p.read_text() for p in sorted(var.glob("worker-*.log")))
    assert out.returncode == 0, log[-4000:]
    assert "Colorarchive is at http://127.0.0.1:8000/" in out.stdout
    assert "user 'staff', password 'colorarchive-staff'" in out.stdout
    assert "6 colorized and approved, 0 failed" in out.stdout, log[-4000:]
    assert "Started a Celery worker for the gpu queue" in out.stdout  # staff work never waits behind a film
    assert "Started a Celery worker for the cpu queue" in out.stdout
    assert "  6 of 6 done, 0 waiting" in out.stdout  # it shows its progress while it colorizes
    assert "The demo's workers have stopped." in out.stdout
    db = sqlite3.connect(var / "colorarchive.sqlite3")
    assert db.execute("select count(*) from catalog_item where status='published'").fetchone() == (6,)
    assert db.execute(
        "select count(*) from jobs_colorizationrequest where status='done' and approved"
    ).fetchone() == (6,)
    # every installed model is offered (the repository's bundled ones beside the user's), the user's DEFAULT first
    offered = dict(db.execute("select name, is_default from jobs_colormodel").fetchall())
    assert offered["tiny"] == 1 and sum(offered.values()) == 1
    assert "unet-v12" in offered and "unet-v12" in out.stdout.split("Also offered for comparison:", 1)[1]


def test_demo_without_a_model_says_so(tmp_path):
    empty = tmp_path / "no-models"
    empty.mkdir()
    out = subprocess.run([sys.executable, "manage.py", "demo", "--no-serve", "--no-worker"], cwd=ROOT,
                         env=_clean_env(COLORARCHIVE_VAR=tmp_path / "var", COLORARCHIVE_MODELS=empty,
                                        COLORARCHIVE_BUNDLED_MODELS=empty),  # an installation without weights
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "No colorization model is installed" in out.stdout
    assert "no colorization model is installed; requests wait until one is registered" in out.stdout


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_stops_the_demo_server_and_its_workers(tmp_path, tiny_model):
    import re
    import signal
    import socket
    import time

    from portal.catalog.management.commands.demo import QUEUES

    demo, port, out_path = _serve_demo(tmp_path, _tiny_models(tmp_path, tiny_model), "--wait", "0")
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and demo.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(1)
        # the workers start once the first page has been served
        pids: list[int] = []
        while len(pids) < len(QUEUES) and time.monotonic() < deadline and demo.poll() is None:
            time.sleep(1)
            text = out_path.read_text()
            pids = [
                int(p)
                for p in re.findall(r"Started a Celery worker for the \w+ queue .*, process (\d+)", text)
            ]
        assert len(pids) == len(QUEUES) == 3 and all(_pid_alive(p) for p in pids), text[-3000:]
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(90) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
    text = out_path.read_text()
    assert "The demo's workers have stopped." in text, text[-3000:]
    assert not any(_pid_alive(p) for p in pids)


def test_demo_serves_at_once_and_colorizes_in_the_background_showing_its_progress(tmp_path, tiny_model):
    import re
    import signal
    import time
    import urllib.request

    demo, port, out_path = _serve_demo(tmp_path, _tiny_models(tmp_path, tiny_model))

    def home() -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
                return response.read().decode()
        except OSError:
            return None

    try:
        first = None
        deadline = time.monotonic() + 300
        while first is None and demo.poll() is None and time.monotonic() < deadline:
            first = home() or time.sleep(1)
        assert first is not None, out_path.read_text()[-3000:]
        # the first page answered while the demo items were still being colorized, and says how far they are
        banner = re.search(r"data-demo-progress>[^<]*?(\d+) of 6 done", first)
        assert banner and int(banner[1]) < 6, first[-3000:]
        while "6 colorized and approved" not in out_path.read_text() and demo.poll() is None:
            assert time.monotonic() < deadline + 300, out_path.read_text()[-3000:]
            time.sleep(2)
        text = out_path.read_text()
        assert "6 colorized and approved, 0 failed" in text and "  6 of 6 done, 0 waiting" in text, text[
            -3000:
        ]
        assert text.index("Colorarchive is at") < text.index("6 of 6 done")  # served before the last finished
        assert "data-demo-progress" not in home()  # no banner once they are all done
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(90) == 0
    finally:
        if demo.poll() is None:
            demo.kill()


def test_the_demo_answers_a_missing_page_with_the_portals_404_not_djangos_debug_page(tmp_path):
    """Served Django's technical 404 (the URL patterns and "DEBUG = True") to anyone trying the demo."""
    import time
    import urllib.error
    import urllib.request

    empty = tmp_path / "no-models"
    empty.mkdir()
    demo, port, out_path = _serve_demo(tmp_path, empty, "--no-worker", COLORARCHIVE_BUNDLED_MODELS=empty)
    try:
        deadline, answer = time.monotonic() + 300, None
        while answer is None and demo.poll() is None and time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/items/999999/", timeout=30)
            except urllib.error.HTTPError as exc:
                answer = (exc.code, exc.read().decode())
            except OSError:
                time.sleep(1)
        assert answer is not None, out_path.read_text()[-3000:]
        status, body = answer
        assert status == 404 and "There is nothing here, or it is not public." in body, body[-3000:]
        assert "DEBUG = True" not in body and "URLconf" not in body
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/css/site.css", timeout=30) as css:
            assert css.status == 200  # the stylesheet is still served
    finally:
        demo.terminate()
        demo.wait(90)
