"""`python manage.py demo`: one command for a working portal with demo data on a fresh machine.

Creates the database, seeds a small catalogue from the images scikit-image ships (plus a short film panned
over one of them), creates demo accounts, registers the installed models (colorization.zoo; the default one as
the default), starts a Celery worker per queue as subprocesses (so staff work never waits behind a film or a
training run) and runs the web server at once, while the demo items are colorized in the background (each is
approved when done; the progress shows on every page and in the console). --no-serve waits for them instead.
Ctrl-C or SIGTERM stops the server and the workers.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files import File
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.catalog.ingest import add_item
from portal.catalog.models import Collection, Item
from portal.catalog.permissions import ADMIN_GROUP, STAFF_GROUP
from portal.jobs import demo_progress

ACCOUNTS = [("staff", "colorarchive-staff", STAFF_GROUP), ("admin", "colorarchive-admin", ADMIN_GROUP)]
NKC = "http://rightsstatements.org/vocab/NKC/1.0/"

# (skimage.data function, title, date, year range, place, people, subjects, description)
DEMO_PHOTOS = [
    ("camera", "The cameraman", "circa 1950", (1945, 1955), "A city park", "",
     "photography; parks", "A man with a plate camera on a tripod, looking through the viewfinder."),
    ("astronaut", "Astronaut portrait", "1984", (1984, 1984), "Houston, Texas", "Eileen Collins",
     "space flight; portraits", "Studio portrait in a flight suit with the flag behind."),
    ("coffee", "A cup of coffee", "circa 1960", (1955, 1965), "A café", "",
     "still life; food and drink", "A cup of coffee on a saucer with a spoon."),
    ("chelsea", "Chelsea the cat", "circa 1970", (1965, 1975), "A family home", "",
     "animals; domestic life", "A tabby cat looking at the camera."),
    ("rocket", "Rocket on the launch pad", "circa 1965", (1960, 1970), "Cape Canaveral, Florida", "",
     "space flight; technology", "A rocket on its launch pad before a test."),
]  # fmt: skip


def _gray(array):
    """The demo's originals are black-and-white, as an archive's would be."""
    from PIL import Image

    image = Image.fromarray(array)
    return image.convert("L") if image.mode != "L" else image


def _pan_film(path: Path, image, frames: int = 48, size=(320, 240), fps: int = 12) -> Path:
    """A short black-and-white 'film': a slow pan across a photograph."""
    import av
    import numpy as np

    src = np.asarray(image.convert("RGB"))
    h, w = src.shape[:2]
    crop_w, crop_h = int(w * 0.7), int(h * 0.7)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "20"}
        from PIL import Image

        for i in range(frames):
            x = int((w - crop_w) * i / (frames - 1))
            y = int((h - crop_h) * 0.3)
            frame = Image.fromarray(src[y : y + crop_h, x : x + crop_w]).resize(size)
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.asarray(frame), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


QUEUES = {
    "cpu": "previews, joins, bulk actions",
    "gpu": "colorizations and training runs",
    "preview": "the hint editor's quick previews",
}
DEMO_MAIL = "django.core.mail.backends.console.EmailBackend"
NO_MODEL_NOTE = "NOTE: no colorization model is installed; requests wait until one is registered."


def _first_page(addrport: str, timeout: float = 120) -> None:
    """Return once the server at runserver's `addrport` has answered its home page (or after `timeout` s)."""
    import urllib.error
    import urllib.request

    port = addrport.rsplit(":", 1)[-1]
    host = addrport[: -len(port) - 1].strip("[]") if ":" in addrport else "127.0.0.1"
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "localhost": "127.0.0.1"}.get(host, host)
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=timeout):
                return
        except urllib.error.HTTPError:  # an answer all the same
            return
        except OSError:  # not listening yet (an HTTP error answer is an answer too, and returns)
            time.sleep(0.2)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _die_with_parent() -> None:
    """A worker gets SIGTERM when the demo process dies, even by SIGKILL (no orphan workers)."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(
                signal.SIGTERM
            )  # a warm shutdown: the running task is cancelled by requeue rules
    for worker in workers:
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()


def is_loopback(addrport: str) -> bool:
    """True when runserver's "addr:port" (or a bare port) listens on this machine only."""
    if addrport.isdigit():
        return True
    host = addrport.rsplit(":", 1)[0] if ":" in addrport and not addrport.endswith("]") else addrport
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Command(BaseCommand):
    help = "Set up and run Colorarchive with demo data: database, accounts, catalogue, a worker and the web server."

    def add_arguments(self, parser):
        parser.add_argument(
            "addrport",
            nargs="?",
            default="127.0.0.1:8000",
            help="Where the web server listens, as runserver takes it: [address:]port (default 127.0.0.1:8000, "
            "this machine only). Another address, such as 0.0.0.0:8000 for every interface, needs "
            "--insecure-public.",
        )
        parser.add_argument(
            "--insecure-public",
            action="store_true",
            help="Allow an address other than loopback. Insecure: the demo accounts' passwords are published.",
        )
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help="Set up, seed and colorize the demo items, then stop (no web server).",
        )
        parser.add_argument("--no-worker", action="store_true", help="Do not start the Celery workers.")
        parser.add_argument(
            "--wait",
            type=int,
            default=180,
            help="With --no-serve: seconds to wait for the demo colorizations.",
        )

    def handle(self, *args, addrport: str, no_serve: bool, no_worker: bool, wait: int, **options):
        self.wait = wait
        if not settings.DEBUG:  # it creates accounts with published passwords: never on a production database
            raise CommandError("demo is for a local trial only; it refuses to run with DJANGO_DEBUG=0")
        if is_loopback(addrport):
            # Served as a museum would serve it: the portal's own 404 and 500 pages, not Django's debug pages
            # (DEBUG is on only for the embedded setup: SQLite, local files, the filesystem broker).
            settings.ALLOWED_HOSTS = settings.ALLOWED_HOSTS or ["localhost", "127.0.0.1", "[::1]"]
            settings.DEBUG = False
        else:
            if not options["insecure_public"]:
                raise CommandError(
                    f"demo listens on loopback only (127.0.0.1:8000); {addrport} would let anyone on the network "
                    "sign in with the published demo passwords. Add --insecure-public to do it anyway."
                )
            # Other machines reach it by names unknown here; at least they get no debug pages.
            settings.ALLOWED_HOSTS = ["*"]
            settings.DEBUG = False
            self.stdout.write(self.style.WARNING(
                f"INSECURE: serving on {addrport} to the network with published demo passwords."
            ))  # fmt: skip
        say = self.stdout.write
        began = time.monotonic()
        say("Setting up the database ...")
        call_command("migrate", interactive=False, verbosity=0)
        say(f"  migrated in {time.monotonic() - began:.1f} s")
        self._accounts()
        seeded = self._catalogue()
        say(f"  seeded in {time.monotonic() - began:.1f} s (since the database step began)")
        self.demo_mail = not settings.MAIL_CONFIGURED
        if (
            self.demo_mail
        ):  # notifications and password reset print their mail to the console (and worker logs)
            settings.EMAIL_BACKEND, settings.MAIL_CONFIGURED = DEMO_MAIL, True
        # SIGTERM ends the demo as Ctrl-C does, so the `finally` below stops the workers either way
        signal.signal(signal.SIGTERM, _interrupt)
        workers: list[subprocess.Popen] = []
        try:
            if no_serve:
                self._colorize(seeded, workers, no_worker)
                self._print_access(addrport)
            else:
                # The first page comes first: the model is listed, the workers start and the items are queued
                # only once the server has answered it, so that none of them competes with it for the CPU (on a
                # busy machine they took most of the two minutes before the first page). Every page shows the
                # progress meanwhile.
                settings.DEMO_PREPARING = len(seeded) if not no_worker else 0
                threading.Thread(
                    target=self._colorize, args=(seeded, workers, no_worker, addrport), daemon=True
                ).start()
                self._print_access(addrport)
                # insecure_serving: static files also when --insecure-public has turned DEBUG off
                call_command("runserver", addrport, use_reloader=False, insecure_serving=True)
        except KeyboardInterrupt:
            self.stdout.write("Stopping the demo ...")
        finally:
            _stop(workers)
            if workers:
                self.stdout.write("The demo's workers have stopped.")

    def _colorize(
        self, seeded: list[Item], workers: list, no_worker: bool, serving: str | None = None
    ) -> None:
        """Register the installed models, start the workers (into `workers`, which the caller stops) and colorize
        the seeded items: in the background once the first page is served (`serving`: the server's addrport),
        else here, waiting for them up to --wait seconds."""
        from django.db import connection

        try:
            if serving:
                _first_page(serving)
            model = self._model()
            if model is None:
                self.stdout.write(self.style.WARNING(NO_MODEL_NOTE))
            workers += [] if no_worker else [self._start_worker(queue) for queue in QUEUES]
            ids = self._queue_demo(model) if seeded and model is not None else []
            if ids and workers and not serving:
                self.stdout.write(f"Waiting for them (up to {self.wait} s) ...")
            if ids and workers:
                settings.DEMO_REQUEST_IDS = ids  # the banner's progress from here on
                settings.DEMO_PREPARING = 0
                self._report(ids, workers, float("inf") if serving else time.monotonic() + self.wait)
        finally:
            settings.DEMO_PREPARING = 0
            if serving:
                connection.close()  # the background thread's own connection

    # ------------------------------------------------------------------ steps

    def _accounts(self) -> None:
        User = get_user_model()
        for username, password, group in ACCOUNTS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.org"}
            )
            if created:
                user.set_password(password)
                user.is_staff = group == ADMIN_GROUP  # admins may also use Django's admin
                user.is_superuser = group == ADMIN_GROUP
                user.save()
            user.groups.add(Group.objects.get_or_create(name=group)[0])

    def _model(self):
        from portal.jobs.installed import register_installed_models

        return register_installed_models(self.stdout, self.style, later="install one and run the demo again")

    def _catalogue(self) -> list[Item]:
        if Item.objects.exists():
            self.stdout.write("The catalogue has items already; not seeding.")
            return []
        import skimage.data

        photos = Collection.objects.get_or_create(slug="demo-photographs", defaults={
            "title": "Demo photographs", "description": "Test images that ship with scikit-image, shown here as "
            "black-and-white archive photographs."})[0]  # fmt: skip
        films = Collection.objects.get_or_create(
            slug="demo-films",
            defaults={
                "title": "Demo films",
                "description": "A short film made for the demo: a slow pan across a photograph.",
            },
        )[0]
        staff = get_user_model().objects.get(username="staff")
        items = []
        with tempfile.TemporaryDirectory() as tmp:
            for key, title, date, (y0, y1), place, people, subjects, description in DEMO_PHOTOS:
                path = Path(tmp) / f"{key}.png"
                _gray(getattr(skimage.data, key)()).save(path)
                items.append(self._add(path, staff, photos, title=title, date=date, year_from=y0, year_to=y1,
                                       place=place, people=people, subjects=subjects, description=description))  # fmt: skip
            film = _pan_film(Path(tmp) / "rocket_pan.mp4", _gray(skimage.data.rocket()))
            items.append(self._add(film, staff, films, title="Launch pad (film)", date="circa 1965", year_from=1960,
                                   year_to=1970, place="Cape Canaveral, Florida", subjects="space flight; film",
                                   description="A slow pan along the rocket and its gantry."))  # fmt: skip
        self.stdout.write(f"Seeded {len(items)} demo items from scikit-image's bundled images.")
        return items

    def _add(self, path: Path, user, collection, **fields) -> Item:
        with transaction.atomic(), open(path, "rb") as f:
            item = add_item(File(f, name=path.name), user=user, collection=collection, rights=NKC,
                            source_archive="scikit-image sample data", source_identifier=path.stem,
                            status=Item.Status.PUBLISHED, **fields)  # fmt: skip
        item.publish()
        return item

    def _start_worker(self, queue: str) -> subprocess.Popen:
        log = Path(settings.VAR_DIR) / f"worker-{queue}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", queue, "--pool", "solo",
               "--loglevel", "INFO", "-n", f"demo-{queue}@%h"]  # fmt: skip
        env = {**os.environ, **({"DJANGO_EMAIL_BACKEND": DEMO_MAIL} if self.demo_mail else {})}
        with open(log, "ab") as out:
            worker = subprocess.Popen(
                cmd, cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )  # fmt: skip
        self.stdout.write(
            f"Started a Celery worker for the {queue} queue ({QUEUES[queue]}), process {worker.pid}; its log: {log}"
        )
        return worker

    def _queue_demo(self, model) -> list[int]:
        """Queue the demo items, each approved by the worker when done; their request ids."""
        from portal.jobs import services

        admin = get_user_model().objects.get(username="admin")
        reqs = []
        for item in Item.objects.all():
            options = {"approve_when_done": True, **({"smoothing": "ema"} if item.is_film else {})}
            reqs += services.submit(admin, item, [model], options)
        self.stdout.write(f"Colorizing the {len(reqs)} demo items (the first start loads the model) ...")
        return [r.pk for r in reqs]

    def _report(self, ids: list[int], workers: list, deadline: float = float("inf")) -> None:
        """Print each change of the progress until the items are done, a worker stopped or the deadline."""
        last = ""
        while time.monotonic() < deadline and all(w.poll() is None for w in workers):
            p = demo_progress.progress(ids)
            if (text := demo_progress.line(p)) != last:
                self.stdout.write(f"  {text}")
                self.stdout.flush()
                last = text
            if p["finished"]:
                break
            time.sleep(1)
        self._summary(ids)

    def _summary(self, ids: list[int]) -> None:
        from portal.jobs.models import ColorizationRequest, Status

        rows = ColorizationRequest.objects.filter(pk__in=ids)
        done = rows.filter(status=Status.DONE, approved=True).count()
        failed = rows.filter(status=Status.FAILED)
        running = len(ids) - done - failed.count()
        note = " (each is approved when it finishes)" if running else ""
        self.stdout.write(
            f"{done} colorized and approved, {failed.count()} failed, {running} still running{note}."
        )
        for req in failed:
            self.stdout.write(self.style.WARNING(f"  {req.item.title}: {req.error}"))

    def _print_access(self, addrport: str) -> None:
        url = f"http://{addrport if ':' in addrport else '127.0.0.1:' + addrport}/"
        lines = [
            "",
            f"Colorarchive is at {url}",
            "  public gallery: no login needed",
            f"  museum staff:   {url}accounts/login/  user 'staff', password 'colorarchive-staff'",
            f"  administrator:  {url}accounts/login/  user 'admin', password 'colorarchive-admin'"
            f" (also {url}admin/)",
            f"  data: {settings.VAR_DIR}",
        ]
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))
