"""Hint preview benchmark: the round trip of the hint editor's quick preview on a CPU, as the page makes it.

    python bench/bench_hint_preview.py [--runs 10] [--scan 3000x2000] [--no-write]

A throwaway portal (SQLite and media in a temporary folder; the broker is Redis on 127.0.0.1:6379, database 14,
when it answers, else kombu's filesystem transport) and a real `celery worker -Q cpu,preview` (solo pool) on this
machine. One typical scan (a greyscale JPEG, 3000 x 2000 by default) is catalogued (the worker makes its web
preview); then each run POSTs 10 points and 3 strokes to the preview URL, polls the status every 300 ms as
static/js/hints.js does, and fetches the JPEG: the time from the POST to the JPEG in hand. The first preview
after the worker starts (which loads the model) is reported apart. Uses the default model. Writes the section
"## Hint preview (bench/bench_hint_preview.py)" of BENCHMARKS.md. Runs in about a minute on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchlib import load_average, machine, publish  # noqa: E402

SECTION = "## Hint preview (bench/bench_hint_preview.py)"
POLL_S = 0.3  # static/js/hints.js polls the status this often
# The worst case: 10 points and 3 strokes (two lines and one outlined region), each with a reach
HINTS = {
    "points": [
        {"x": 0.1 + 0.08 * i, "y": 0.15 + 0.07 * i, "color": colour, "reach": reach}
        for i, (colour, reach) in enumerate(
            zip(
                ["#2f5a8a", "#3b7a57", "#8a2f2f", "#c8a070", "#6a8caf"] * 2,
                ["small", "medium", "region", "medium", "small"] * 2,
                strict=True,
            )
        )
    ],
    "strokes": [
        {"points": [[0.05, 0.9], [0.3, 0.85], [0.5, 0.9]], "color": "#3b7a57"},
        {"points": [[0.7, 0.1], [0.9, 0.2]], "color": "#2f5a8a", "reach": "region"},
        {"points": [[0.5, 0.3], [0.7, 0.3], [0.7, 0.6], [0.5, 0.6]], "color": "#8a2f2f", "closed": True},
    ],
}


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def make_scan(path: Path, width: int, height: int) -> Path:
    from PIL import Image

    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    gray = 70 + 120 * x / width + 20 * np.sin(y / 40.0)
    gray[(x - width * 0.6) ** 2 + (y - height * 0.45) ** 2 < (height * 0.2) ** 2] = 150
    Image.fromarray(gray.clip(0, 255).astype(np.uint8), "L").save(path, quality=90)
    return path


def round_trip(client, url: str) -> tuple[float, float]:
    """POST the hints, poll like the page, fetch the JPEG: (seconds in all, the worker's own seconds)."""
    start = time.perf_counter()
    answer = client.post(url, {"hints": json.dumps(HINTS)})
    assert answer.status_code == 202, answer.content
    status_url = answer.json()["status_url"]
    while True:
        status = client.get(status_url).json()
        if status["status"] == "done":
            break
        assert status["status"] in ("pending", "running"), status
        assert time.perf_counter() - start < 300, "no preview after 5 minutes"
        time.sleep(POLL_S)
    jpeg = client.get(status["image_url"])
    assert jpeg["Content-Type"] == "image/jpeg" and jpeg.content[:2] == b"\xff\xd8"
    return time.perf_counter() - start, status["seconds"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--scan", default="3000x2000", help="width x height of the scan")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.scan.lower().split("x"))

    var = Path(tempfile.mkdtemp(prefix="bench-hint-preview-"))
    env = {"COLORARCHIVE_VAR": str(var), "DJANGO_SETTINGS_MODULE": "portal.settings", "DJANGO_DEBUG": "1"}
    env.update({"REDIS_URL": "redis://127.0.0.1:6379/14"} if redis_answers() else {})
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "S3_BUCKET"):
        if name not in env:
            os.environ.pop(name, None)
    os.environ.update(env)
    broker = "Redis" if "REDIS_URL" in env else "kombu's filesystem transport"

    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.files import File
    from django.core.management import call_command
    from django.test import Client

    from colorization import zoo
    from portal.catalog.ingest import add_item
    from portal.catalog.models import Item
    from portal.jobs.models import ColorModel

    call_command("migrate", verbosity=0)
    info = zoo.describe(zoo.resolve_model("default"))
    ColorModel.objects.create(name=info.name, zoo_name="default", is_default=True)
    user = User.objects.create_user("bench", password="bench-bench-1234")
    user.groups.add(Group.objects.get_or_create(name="staff")[0])

    log = var / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", "cpu,preview", "--pool", "solo",
         "--loglevel", "INFO", "-n", f"bench-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
         "--without-heartbeat"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "ready." not in log.read_text():
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        scan = make_scan(var / "scan.jpg", width, height)
        with open(scan, "rb") as f:
            item = add_item(File(f, name=scan.name), user=user, title="Bench scan")
        while not Item.objects.get(pk=item.pk).preview:
            assert time.monotonic() < deadline + 120, log.read_text()[-3000:]
            time.sleep(0.2)

        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        url = f"/jobs/items/{item.pk}/hint-preview/"
        cold, cold_worker = round_trip(client, url)
        runs = [round_trip(client, url) for _ in range(args.runs)]
    finally:
        worker.terminate()
        worker.wait(30)
    totals = sorted(t for t, _ in runs)
    workers = [w for _, w in runs]
    p90 = totals[min(len(totals) - 1, int(round(0.9 * (len(totals) - 1))))]
    lines = [
        SECTION,
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}. Model: `{info.name}` (version {info.version}). "
        f"Broker: {broker}. Load average at the start: {load_average()}.",
        "",
        f"The hint editor's quick preview of a {width} x {height} greyscale scan with 10 points and 3 strokes "
        "(one an outlined region): POST, the worker "
        f"(`preview` queue) runs the network on a {640}-px copy of the item's web preview, the page polls every "
        f"{POLL_S * 1000:.0f} ms and fetches the JPEG. {args.runs} runs after one warm-up; the warm-up (the worker "
        "loads the model) apart. Target: under 2 s on a CPU.",
        "",
        "| round trip, median | round trip, 90th percentile | worker's part, median | first preview (model load) |",
        "| --- | --- | --- | --- |",
        f"| {statistics.median(totals):.2f} s | {p90:.2f} s | {statistics.median(workers):.2f} s | "
        f"{cold:.2f} s ({cold_worker:.2f} s in the worker) |",
        "",
    ]
    publish(SECTION, lines, write=not args.no_write)


if __name__ == "__main__":
    main()
