"""Background work as database rows with a state machine (NetBox's Job): the row is the single truth.

Each job model names its Celery task (`task_name`, sent by name: the portal never imports `workers`) and owns
its life: `enqueue()` once its row commits, `claim()`, `finish()`, `fail()`, `cancel()`, and `requeue(why)` when
its worker was lost. Recovery (portal/jobs/services.py: `requeue_stale`, `sweep`) loops over `job_models()`.

pending -> running -> done | failed; pending/running -> cancelled. `claim()` is the only way into
running, so a duplicate Celery delivery finds nothing to claim and does nothing. Each claim counts an attempt,
and a worker writes (progress, result, failure) only while the row is running its own attempt: a worker the
sweeper gave up on (requeued) that wakes up later never touches the next attempt. A film's request has a
second, inner state while it runs, its `Phase` (segments -> join queued -> joining -> joined), moved only by
`advance_to` and `finish`. Every change is one conditional UPDATE, so of two workers exactly one wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from colorization.hints import DEFAULT_REACH
from portal import broker
from portal.catalog.models import Item
from portal.jobs.figures import FigureName, named
from portal.storage import store_then_save

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

PRESET_CHOICES = [("photo", "Photograph"), ("film", "Film")]
# The registered temporal stages as colorization.registry.choices("temporal") names them; the web process imports
# no stage of the library, so the list is repeated here and tests/test_choices.py holds the two equal.
SMOOTHING_CHOICES = [
    ("none", "None (frame by frame)"),
    ("ema", "Exponential smoothing"),
    ("window", "Sliding window"),
    ("flow", "Optical flow (best, slowest)"),
    ("keyframes", "Keyframe propagation (long shots)"),
]
PROGRESS_STEP = 0.01  # write progress at most every 1 %


class Status(models.TextChoices):
    PENDING = "pending", "Waiting"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE = (Status.PENDING, Status.RUNNING)
# why a running job goes back on the queue (its error says so; the give-up message words it)
WORKER_LOST = "Worker lost"
DATABASE_LOST = "The database connection was lost while this ran"


class Cancelled(Exception):
    """Raised in a worker when its row is no longer running (cancelled, failed elsewhere, or deleted): the
    progress callbacks raise it, so a colorization, a film segment or a training run stops within seconds."""


class _NotRecorded(Exception):
    """Job.finish found the row no longer running this attempt: the files stored for it go."""


class Job(models.Model):
    # the Celery task that runs a row, by name (it lives in workers/tasks.py; the portal never imports workers)
    task_name: ClassVar[str]
    # recovery handles the job models in this order (lower first): rows a worker locks first are locked first
    recovery_rank: ClassVar[int] = 0

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    progress = models.FloatField(default=0.0)  # 0..1
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # times a worker claimed it
    queued_at = models.DateTimeField(null=True, blank=True)  # its message last reached the broker (sweeper)
    # written by the worker running it every settings.HEARTBEAT_SECONDS (workers/runner.py); None when no worker
    # holds it (pending, or a film between its worker's steps)
    heartbeat = models.DateTimeField(null=True, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def notice_subject(self) -> str | None:
        """What the notification that this job ended calls it ("Training run #3 (harbour)"); None: nobody is
        told (a job with a `requested_by` field names itself here, portal/jobs/notify.py)."""
        return None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def percent(self) -> int:
        return round(100 * self.progress)

    @property
    def label(self) -> str:
        """The job in recovery's log lines: "training run 7"."""
        return f"{self._meta.verbose_name} {self.pk}"

    def enqueue(self) -> None:
        """Send this row's task once its transaction commits (a web request only writes the row); a broker that
        cannot be reached leaves the row pending for the sweeper (portal/broker.py), and `self.queued` says so."""
        broker.send_on_commit(self, self.task_name)

    @classmethod
    def claim(cls, pk: int):
        """Move a pending row to running and return it; None if it is not pending (duplicate delivery)."""
        with transaction.atomic():
            job = cls.objects.select_for_update().filter(pk=pk, status=Status.PENDING).first()
            if job is None:
                return None
            job.status = Status.RUNNING
            job.started = job.heartbeat = timezone.now()
            job.attempts += 1
            job.error = ""
            job.save(update_fields=["status", "started", "heartbeat", "attempts", "error", "updated"])
        return job

    @classmethod
    def update_running(cls, pk: int, attempt: int | None = None, **fields) -> None:
        """Write `fields` (and the heartbeat) to a running row, in its attempt `attempt` when given; raise
        Cancelled when it is not running (or runs another attempt: it was requeued meanwhile). When the database
        connection was lost the worker waits for the database and writes again (portal.database)."""
        from portal.database import retrying

        rows = cls.objects.filter(pk=pk, status=Status.RUNNING)
        if attempt is not None:
            rows = rows.filter(attempts=attempt)
        if not retrying(lambda: rows.update(updated=timezone.now(), **fields)):
            raise Cancelled(f"{cls._meta.verbose_name} {pk} is no longer running (attempt {attempt})")

    def set_progress(self, done: int, total: int | None) -> None:
        """Progress callback for the libraries; writes (and checks for cancellation) when it moved by
        PROGRESS_STEP."""
        fraction = min(1.0, done / total) if total else 0.0
        if fraction - self.progress < PROGRESS_STEP and fraction < 1.0:
            return
        self.progress = fraction
        self.update_running(self.pk, attempt=self.attempts, progress=fraction)

    def finish(self, files: Mapping[str, Path] | None = None, **fields) -> bool:
        """Record success, unless the job was cancelled, or requeued, meanwhile (the row is no longer running
        this attempt); returns whether it was recorded. `files`: field -> a finished local file, stored under
        its own name and recorded with the row (portal.storage.store_then_save): when the row does not commit
        (not recorded, or an error) no file is kept."""
        if not files:
            return self._record(fields)

        def record() -> None:
            if not self._record(fields):
                raise _NotRecorded

        try:
            store_then_save(self, {field: (path, path.name) for field, path in files.items()}, save=record)
        except _NotRecorded:
            return False
        return True

    def _record(self, fields: dict) -> bool:
        with transaction.atomic():
            current = (
                type(self)
                .objects.select_for_update()
                .filter(pk=self.pk)
                .values_list("status", "attempts")
                .first()
            )
            if current != (Status.RUNNING, self.attempts):
                return False
            for name, value in fields.items():
                setattr(self, name, value)
            self.status, self.progress, self.finished = Status.DONE, 1.0, timezone.now()
            self.save()
            transaction.on_commit(self._notify)
        return True

    def fail(self, message: str) -> None:
        """Record a failure in plain words (a cancelled job stays cancelled; a requeued one is left to its next
        attempt)."""
        self.error, self.finished = message, timezone.now()
        failed = (
            type(self)
            .objects.filter(pk=self.pk, status__in=ACTIVE, attempts=self.attempts)
            .update(status=Status.FAILED, error=message, finished=self.finished, updated=timezone.now())
        )
        self.status = (
            type(self).objects.filter(pk=self.pk).values_list("status", flat=True).first() or self.status
        )
        if failed:
            self._notify()

    def _notify(self, by: AbstractBaseUser | None = None) -> None:
        from portal.jobs import notify

        notify.job_ended(self, by=by)

    def cancel(self, by: AbstractBaseUser | None = None) -> bool:
        """Cancel a waiting or running job (its worker stops at its next progress report) and tell whoever asked
        for it; `by`: the person who cancelled it (None: the system, e.g. the item went to the trash)."""
        changed = (
            type(self)
            .objects.filter(pk=self.pk, status__in=ACTIVE)
            .update(status=Status.CANCELLED, finished=timezone.now(), updated=timezone.now())
        )
        if changed:
            self.refresh_from_db()
            self._notify(by=by)
        return bool(changed)

    @classmethod
    def beat(cls, pk: int, attempt: int, alive: bool = True) -> bool:
        """The worker running attempt `attempt` is alive (or, `alive` False, no longer holds the row); False when
        the row no longer runs that attempt."""
        rows = cls.objects.filter(pk=pk, status=Status.RUNNING, attempts=attempt)
        return bool(rows.update(heartbeat=timezone.now() if alive else None))

    @classmethod
    def stale(cls, minutes: int | None = None):
        """Running rows silent for `minutes` (0: every running row; None: settings.STALE_MINUTES), or, with the
        default, whose worker's heartbeat stopped settings.WORKER_LOST_SECONDS ago (it was killed)."""
        now = timezone.now()
        cutoff = now - timedelta(minutes=settings.STALE_MINUTES if minutes is None else minutes)
        silent = Q(updated__lte=cutoff)
        if minutes is None:
            silent |= Q(heartbeat__lte=now - timedelta(seconds=settings.WORKER_LOST_SECONDS))
        return cls.objects.filter(silent, status=Status.RUNNING)

    def requeue(self, why: str) -> str | None:
        """Put this running job (its row locked by the caller) back on the queue, its error saying `why`; a job
        that used its settings.MAX_ATTEMPTS fails with the reason instead. Returns what it did (None: nothing)."""
        if self._give_up(why):
            return f"{self.label} failed: {self.error}"
        self.status, self.progress, self.queued_at, self.heartbeat = Status.PENDING, 0.0, None, None
        self.error = f"{why}, requeued (attempt {self.attempts} of {settings.MAX_ATTEMPTS} used)."
        self.save(update_fields=["status", "progress", "queued_at", "heartbeat", "error", "updated"])
        self.enqueue()  # a job starts over: each of its steps is idempotent
        return self.label

    def _give_up(self, why: str) -> bool:
        """Fail a job that was stopped on each of its allowed attempts; True when it did."""
        if self.attempts < settings.MAX_ATTEMPTS:
            return False
        if why == WORKER_LOST:
            self.fail(
                f"The worker stopped {self.attempts} times while working on this (for example it ran out of "
                "memory); it is not tried again automatically."
            )
        else:
            self.fail(f"{why}, on each of its {self.attempts} attempts; it is not tried again automatically.")
        return True

    @classmethod
    def send_unsent(cls, minutes: int | None = None) -> list[str]:
        """Send each pending row whose message never reached the broker, or was lost with it (`unsent`);
        returns what it sent."""
        done = []
        for pk in cls.unsent(minutes).values_list("pk", flat=True):
            if broker.send(cls.task_name, pk):
                cls.objects.filter(pk=pk).update(queued_at=timezone.now())
                done.append(f"sent {cls._meta.verbose_name} {pk}")
        return done

    @classmethod
    def unsent(cls, minutes: int | None = None):
        """Pending rows whose message never reached the broker, or went out `minutes` ago and was not taken
        (a broker restarted without its queue loses it); sending one twice is harmless, claim() takes it once."""
        cutoff = timezone.now() - timedelta(minutes=settings.STALE_MINUTES if minutes is None else minutes)
        return cls.objects.filter(status=Status.PENDING).filter(
            models.Q(queued_at__isnull=True) | models.Q(queued_at__lte=cutoff)
        )


def job_models() -> list[type[Job]]:
    """Every job model (of any app), in recovery order: what `requeue_stale` and `sweep` loop over."""
    return sorted((m for m in apps.get_models() if issubclass(m, Job)), key=lambda m: m.recovery_rank)


def _model_path(model: ColorModel, filename: str) -> str:
    return f"models/{timezone.now():%Y%m%d-%H%M%S}-{filename}"


class ColorModel(models.Model):
    """A colorization model the portal offers: an uploaded checkpoint, a trained one, or a bundled zoo name."""

    inspect_task_name: ClassVar[str] = "workers.tasks.inspect_model"  # fills `info` from the checkpoint

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    checkpoint = models.FileField(upload_to=_model_path, blank=True, max_length=400)
    zoo_name = models.CharField(max_length=100, blank=True, help_text='A bundled model name, e.g. "default".')
    is_default = models.BooleanField(default=False)
    info = models.JSONField(
        default=dict, blank=True, editable=False
    )  # arch, params, version... read by a worker
    metrics = models.JSONField(default=dict, blank=True)
    training_run = models.ForeignKey(
        "TrainingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # the default this model replaced when it was promoted: a rollback makes that one the default again
    promoted_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    promoted_at = models.DateTimeField(null=True, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["info"])  # promotions and rollbacks, with who and when

    class Meta:
        ordering = ["-is_default", "name"]
        verbose_name = "model"

    def __str__(self) -> str:
        return self.name + (" (default)" if self.is_default else "")

    @property
    def version(self) -> str:
        return str(self.info.get("version", ""))

    # shown until a worker has read the checkpoint (inspect_model), which stores its card's sentence in info
    UNREAD_CARD = (
        "This model's card has not been read yet; its colours are plausible guesses, not historical fact."
    )

    @property
    def card(self) -> str:
        """One plain sentence from the model's card: what it is good and bad at (colorization/model_cards.py)."""
        return str(self.info.get("card") or self.UNREAD_CARD)

    # the figures a listing shows first; the database does not keep a JSON object's key order (jsonb sorts them)
    HEADLINE_METRICS = (
        "historical_psnr",  # the acceptance test on true-colour historical photographs (eval-historical)
        "historical_ssim",
        "historical_colourfulness_ratio",
        "historical_ab_pearson",
        "test_psnr",
        "test_ab_pearson",
        "test_ssim",
        "test_gray_psnr",
        "val_pearson",
        "val_mae",
    )

    def headline_metrics(self, limit: int = 4) -> list[tuple[FigureName, float]]:
        """The first `limit` figures, in words (portal/jobs/figures.py), the headline ones first."""
        return named(self.metrics, self.HEADLINE_METRICS)[:limit]

    @classmethod
    def default(cls) -> ColorModel | None:
        return cls.objects.filter(is_default=True).first() or cls.objects.first()

    def promote(self) -> None:
        """Make this the default for new requests (exactly one default), remembering the one it replaces."""
        with transaction.atomic():
            replaced = list(
                ColorModel.objects.select_for_update().filter(is_default=True).exclude(pk=self.pk)
            )
            current = replaced[0] if replaced else None
            for model in replaced:  # saved one by one, so the audit trail shows each change
                model.is_default = False
                model.save(update_fields=["is_default"])
            self.is_default = True
            if current is not None:
                self.promoted_from, self.promoted_at = current, timezone.now()
            self.save(update_fields=["is_default", "promoted_from", "promoted_at"])

    def roll_back(self) -> ColorModel:
        """On the default: make the default it replaced the default again (one step back) and return it."""
        previous = self.promoted_from
        if not self.is_default or previous is None:
            raise ValueError(
                f"{self.name} did not replace another default; there is nothing to roll back to."
            )
        with transaction.atomic():
            self.is_default, previous.is_default = False, True
            self.save(update_fields=["is_default"])
            previous.save(update_fields=["is_default"])
        return previous


def _result_path(req: ColorizationRequest, filename: str) -> str:
    return f"results/{req.item_id}/{req.pk}/{filename}"


class Phase(models.TextChoices):
    """Where a running film's request is (a photo's stays NONE). The stored values predate the names."""

    NONE = "", "Not started"
    SEGMENTS = "segments", "Colorizing its segments"
    JOIN_QUEUED = "joining", "Waiting for a worker to join the segments"
    JOINING = "merging", "A worker is joining the segments"
    JOINED = "done", "Joined"


# phase -> the phases a running request may move to it from
PHASE_FROM = {
    Phase.SEGMENTS: (Phase.NONE, Phase.SEGMENTS),  # planned (a redelivered plan finds its rows)
    Phase.JOIN_QUEUED: (Phase.SEGMENTS, Phase.JOINING),  # the last segment is done; or a silent joiner
    Phase.JOINING: (Phase.JOIN_QUEUED,),  # a worker claims the join
}
JOIN_SHARE = 0.95  # the join is the last 5 % of a film's progress


class ColorizationRequest(Job):
    task_name = "workers.tasks.colorize"  # a photo; a film's plan (its segments are Segment rows)
    join_task_name = "workers.tasks.join_segments"  # a film's last step, once its segments are done

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="requests")
    model = models.ForeignKey(ColorModel, on_delete=models.PROTECT, related_name="requests")
    preset = models.CharField(max_length=20, choices=PRESET_CHOICES)
    options = models.JSONField(default=dict, blank=True)  # e.g. {"smoothing": "flow"}
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # the bulk action that queued it: its requester hears once, when the whole action has ended (notify.py)
    bulk = models.ForeignKey(
        "BulkAction", null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )
    result = models.FileField(upload_to=_result_path, blank=True, max_length=400)
    result_preview = models.FileField(upload_to=_result_path, blank=True, max_length=400)
    provenance = models.JSONField(default=dict, blank=True)
    phase = models.CharField(
        max_length=20, choices=Phase.choices, default=Phase.NONE, blank=True, editable=False
    )
    frames = models.PositiveIntegerField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)
    approved = models.BooleanField(default=False, db_index=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    # approvals, withdrawals, cancellations, the worker's start and end (progress writes are not saves)
    history = HistoricalRecords(excluded_fields=["updated", "heartbeat", "progress", "provenance"])

    class Meta:
        ordering = ["-created"]
        verbose_name = "colorization request"
        # The public pages' "latest approved result" queries (the home page's featured photograph).
        indexes = [
            models.Index(fields=["-approved_at"], condition=Q(approved=True, status=Status.DONE),
                         name="approved_results_recent"),
            models.Index(fields=["model", "-approved_at"], condition=Q(approved=True, status=Status.DONE),
                         name="approved_results_by_model"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"#{self.pk} {self.item} with {self.model.name}"

    @property
    def label(self) -> str:
        return f"request {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("jobs:request", args=[self.pk])

    @property
    def notice_subject(self) -> str:
        return f"Colorization of “{self.item.title}” with {self.model.name}"

    @property
    def model_label(self) -> str:
        version = self.provenance.get("model_version") or self.model.version
        name = self.model.name
        if not version or name.endswith(
            (f"v{version}", f"-{version}")
        ):  # "unet-bins-v6s", not "unet-bins-v6s v6s"
            return name
        return f"{name} v{version}"

    @property
    def hints(self) -> dict:
        """The colour hints document given with the request (portal.jobs.hints.check), {} for none."""
        return self.options.get("hints") or {}

    @property
    def hint_summary(self) -> str:
        """The hints in words: "2 colour hints and 1 stroke, colour strength 1.2"."""
        from portal.jobs.hints import summary

        return summary(self.hints)

    def _marks(self, key: str) -> list[tuple[int | None, dict]]:
        """The points or strokes given, each with its frame (a film's keyframe; None for a photograph)."""
        if "keyframes" not in self.hints:
            return [(None, m) for m in self.hints.get(key) or []]
        frames = sorted(self.hints["keyframes"].items(), key=lambda kv: int(kv[0]))
        return [(int(frame), m) for frame, doc in frames for m in doc.get(key) or []]

    @property
    def hint_frames(self) -> list[int]:
        """A film's: the frames that hold colour hints, in order."""
        return sorted(int(frame) for frame in self.hints.get("keyframes") or {})

    @property
    def hint_points(self) -> list[dict]:
        """The colour hints given with the request, ready to draw over the original (an SVG in the picture's own
        pixel units, so a marker stays round): number, position in % and in pixels, colour, reach."""
        width, height = self.item.width or 1000, self.item.height or 1000
        radius = max(4.0, 0.018 * min(width, height))
        return [
            {
                "n": n,
                "x": round(100 * p["x"], 1),
                "y": round(100 * p["y"], 1),
                "color": p["color"],
                "reach": p.get("reach", DEFAULT_REACH),
                "cx": round(p["x"] * width, 1),
                "cy": round(p["y"] * height, 1),
                "r": round(radius, 1),
                "frame": frame,
            }  # fmt: skip
            for n, (frame, p) in enumerate(self._marks("points"), 1)
        ]

    @property
    def hint_strokes(self) -> list[dict]:
        """The strokes and regions given with the request, numbered after the points, as SVG polyline or
        polygon vertices in the picture's pixel units."""
        width, height = self.item.width or 1000, self.item.height or 1000
        first = len(self._marks("points")) + 1
        return [
            {
                "n": n,
                "closed": bool(s.get("closed")),
                "color": s["color"],
                "reach": s.get("reach", DEFAULT_REACH),
                "vertices": len(s["points"]),
                "svg": " ".join(f"{round(x * width, 1)},{round(y * height, 1)}" for x, y in s["points"]),
                "frame": frame,
            }
            for n, (frame, s) in enumerate(self._marks("strokes"), first)
        ]

    def cancel(self, by: AbstractBaseUser | None = None) -> bool:
        """Cancel the request and its film segments still waiting or running (their workers stop)."""
        changed = super().cancel(by=by)
        self.segments.filter(status__in=ACTIVE).update(
            status=Status.CANCELLED, finished=timezone.now(), updated=timezone.now()
        )
        return changed

    def advance_to(self, phase: Phase, **fields) -> bool:
        """Move a running film to `phase` from one that PHASE_FROM allows; False (and nothing written) when
        the row is not running or elsewhere: a duplicate delivery, or another worker was first."""
        won = (
            type(self)
            .objects.filter(pk=self.pk, status=Status.RUNNING, phase__in=PHASE_FROM[phase])
            .update(phase=phase, updated=timezone.now(), **fields)
        )
        if won:
            self.phase = phase
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(won)

    def plan_segments(self, plan: list[dict]) -> list[Segment]:
        """Record a film's segments (the library's plan, as dicts) and enter the SEGMENTS phase; returns the
        rows still waiting, for their tasks. Idempotent: a redelivered plan finds the rows it made."""
        with transaction.atomic():
            rows = [
                Segment.objects.get_or_create(
                    request=self,
                    index=part["index"],
                    defaults={
                        "start_frame": part["start_frame"],
                        "end_frame": part["end_frame"],
                        "plan": part,
                    },
                )[0]
                for part in plan
            ]
            self.advance_to(Phase.SEGMENTS)
        return [seg for seg in rows if seg.status == Status.PENDING]

    def queue_join_when_complete(self) -> bool:
        """After a segment finished: True for exactly the one caller that finds every segment done."""
        if self.segments.exclude(status=Status.DONE).exists():
            return False
        return self.advance_to(Phase.JOIN_QUEUED, progress=JOIN_SHARE, queued_at=None)

    def requeue_join(self) -> bool:
        """A stale join (its task lost, or the worker joining went silent) waits for a worker again."""
        return self.advance_to(Phase.JOIN_QUEUED, queued_at=None, heartbeat=None) or bool(
            type(self)
            .objects.filter(pk=self.pk, status=Status.RUNNING, phase=Phase.JOIN_QUEUED)
            .update(updated=timezone.now(), heartbeat=None, queued_at=None)
        )

    def enqueue_join(self) -> None:
        """Send the join of a film whose segments are all done, once this transaction commits."""
        broker.send_on_commit(self, self.join_task_name)

    def requeue(self, why: str) -> str | None:
        """A photo, or a film's plan, goes back on the queue. A film's segments are requeued on their own; its
        join is queued when the worker of the last segment stopped before queueing it, or queued again when the
        join was lost."""
        if self.phase == Phase.SEGMENTS:
            join = self.queue_join_when_complete()
        else:
            join = self.phase in (Phase.JOIN_QUEUED, Phase.JOINING) and self.requeue_join()
        if join:
            self.enqueue_join()
            return f"join of {self.label}"
        if self.phase == Phase.SEGMENTS:
            return None
        return super().requeue(why)

    @classmethod
    def joins_unsent(cls):
        """Films whose segments are all done but whose join message never reached the broker (it was down when
        the last segment finished): the sweeper sends them."""
        return cls.objects.filter(status=Status.RUNNING, phase=Phase.JOIN_QUEUED, queued_at__isnull=True)

    @classmethod
    def send_unsent(cls, minutes: int | None = None) -> list[str]:
        done = super().send_unsent(minutes)
        for pk in cls.joins_unsent().values_list("pk", flat=True):
            if broker.send(cls.join_task_name, pk):
                cls.objects.filter(pk=pk, queued_at=None).update(queued_at=timezone.now())
                done.append(f"sent join of request {pk}")
        return done

    def finish(self, files: Mapping[str, Path] | None = None, **fields) -> bool:
        """Record success; a request asked to be approved when done (the demo's seeded ones) is approved with it."""
        if self.options.get("approve_when_done"):
            fields.update(approved=True, approved_by=self.requested_by, approved_at=timezone.now())
        return super().finish(files, **fields)

    def approve(self, user) -> None:
        self.approved, self.approved_by, self.approved_at = True, user, timezone.now()
        self._history_user = user  # the audit trail's "who" when a worker approves for someone (bulk)
        self.save(update_fields=["approved", "approved_by", "approved_at", "updated"])

    def withdraw_approval(self) -> None:
        self.approved, self.approved_by, self.approved_at = False, None, None
        self.save(update_fields=["approved", "approved_by", "approved_at", "updated"])

    def segment_progress(self) -> float:
        rows = list(self.segments.values_list("progress", "start_frame", "end_frame"))
        total = sum(end - start for _, start, end in rows)
        return sum(p * (end - start) for p, start, end in rows) / total if total else 0.0


class Segment(Job):
    """One stretch of a film, colorized by its own short task so several workers share a film."""

    task_name = "workers.tasks.colorize_segment"
    recovery_rank = -1  # before its request: a worker locks the segment, then writes to the request

    request = models.ForeignKey(ColorizationRequest, on_delete=models.CASCADE, related_name="segments")
    index = models.PositiveIntegerField()
    start_frame = models.PositiveIntegerField()
    end_frame = models.PositiveIntegerField()
    plan = models.JSONField(default=dict)  # the library's Segment, as a dict
    part = models.FileField(upload_to="work/segments/", blank=True, max_length=400)

    class Meta:
        ordering = ["request", "index"]
        constraints = [models.UniqueConstraint(fields=["request", "index"], name="one_segment_per_index")]

    def __str__(self) -> str:
        return f"segment {self.index} of request {self.request_id}"

    @property
    def frames(self) -> str:
        """Its frames, both ends included: end_frame is the next segment's first frame (a half-open range)."""
        return f"{self.start_frame}–{self.end_frame - 1}"

    @property
    def times(self) -> str:
        """Where it lies in the film, as m:ss.s from its first frame to the next segment's ("" without a rate)."""
        item = self.request.item
        if not item.duration or not item.frame_count:
            return ""
        fps = item.frame_count / item.duration

        def clock(frame: int) -> str:
            minutes, seconds = divmod(frame / fps, 60)
            return f"{int(minutes)}:{seconds:04.1f}"

        return f"{clock(self.start_frame)}–{clock(self.end_frame)}"

    @property
    def label(self) -> str:
        return str(self)

    def requeue(self, why: str) -> str | None:
        """As any job; a segment that gives up fails its film."""
        line = super().requeue(why)
        if self.status == Status.FAILED:
            self.request.fail(f"Part {self.index + 1} of the film failed: {self.error}")
        return line


class TrainingSource(models.Model):
    """A colour film (or photo) ingested for training; the dataset is rebuilt from these incrementally."""

    title = models.CharField(max_length=300)
    file = models.FileField(upload_to="training/sources/", max_length=400)
    sha256 = models.CharField(max_length=64, unique=True, editable=False)
    size = models.BigIntegerField(default=0, editable=False)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.title


class TrainingRun(Job):
    task_name = "workers.tasks.train"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    name = models.CharField(max_length=100, help_text="Name of the model this run will register.")
    config = models.CharField(
        max_length=200, blank=True, help_text="A training config file (blank: the base config)."
    )
    overrides = models.JSONField(default=dict, blank=True)  # TrainConfig field -> value
    build_options = models.JSONField(default=dict, blank=True)  # training.build_dataset options
    # the model this run fine-tunes (its architecture, loss, hints and weights; training.finetune); none: a new
    # model from the config alone
    start_from = models.ForeignKey(
        ColorModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    dataset = models.JSONField(default=dict, blank=True, editable=False)  # the build manifest summary
    metrics = models.JSONField(default=dict, blank=True, editable=False)
    curve = models.JSONField(default=list, blank=True, editable=False)  # [{"step":..,"loss":..,...}]
    log = models.TextField(blank=True, editable=False)
    result_model = models.ForeignKey(
        ColorModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"training run #{self.pk} ({self.name})"

    def get_absolute_url(self) -> str:
        return reverse("jobs:training_run", args=[self.pk])

    @property
    def notice_subject(self) -> str:
        return f"Training run #{self.pk} ({self.name})"


class BulkAction(Job):
    """One staff action over many catalogue items, done by a worker item by item (portal/jobs/bulk.py)."""

    task_name = "workers.tasks.bulk_action"

    class Action(models.TextChoices):
        COLORIZE = "colorize", "Colorize with the chosen models"
        APPROVE = "approve", "Approve the default model's results"
        PUBLISH = "publish", "Publish"
        UNPUBLISH = "unpublish", "Unpublish"
        ADD_TO_COLLECTION = "collect", "Add to a collection"

    action = models.CharField(max_length=20, choices=Action.choices)
    items = models.JSONField(default=list)  # item ids, fixed when the action is started
    options = models.JSONField(
        default=dict, blank=True
    )  # {"models": [ids], "smoothing": ..., "collection": id}
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    changed = models.PositiveIntegerField(default=0)  # items the action changed (or requests it queued)
    report = models.JSONField(default=list, blank=True)  # ["title: why it was skipped", ...]

    class Meta:
        ordering = ["-created"]
        verbose_name = "bulk action"

    def __str__(self) -> str:
        return f"{self.get_action_display()} on {len(self.items)} item(s)"

    def get_absolute_url(self) -> str:
        return reverse("jobs:bulk", args=[self.pk])

    @property
    def notice_subject(self) -> str:
        return f"Bulk action “{self.get_action_display()}” on {len(self.items)} item(s)"


class Notification(models.Model):
    """A line in a person's in-portal list when their request, run or bulk action ends, fails or is cancelled
    (also mailed when mail is configured: portal/jobs/notify.py)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    message = models.CharField(max_length=500)
    url = models.CharField(max_length=300, blank=True)
    failed = models.BooleanField(default=False)
    read = models.BooleanField(default=False, db_index=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-pk"]

    def __str__(self) -> str:
        return self.message


class HintPreview(Job):
    """A quick look at what colour hints do before a request is submitted: the network at preview size on
    the item's web preview (a film's: on one frame, which the row keeps as it is too, so the editor shows the
    frame it places marks on), the result kept as a small JPEG in the row (a worker makes it:
    workers/tasks.preview_hints).
    Rows are throwaway: each new preview removes its requester's old ones (KEEP_MINUTES)."""

    task_name = "workers.tasks.preview_hints"
    KEEP_MINUTES = 30

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    model = models.ForeignKey(ColorModel, on_delete=models.CASCADE, related_name="+")
    hints = models.JSONField(default=dict, blank=True)  # the hints document, checked by portal.jobs.hints
    # a film's: the frame colorized (with the marks its keyframes document holds for it); None for a photograph
    frame = models.PositiveIntegerField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    image = models.BinaryField(blank=True, editable=False)  # the JPEG, a few tens of kilobytes
    still = models.BinaryField(blank=True, editable=False)  # a film's: that frame as it is, for the editor
    note = models.CharField(max_length=300, blank=True)  # e.g. the model takes no hints
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = "hint preview"

    @property
    def notice_subject(self) -> None:
        return None  # the editor shows the preview as soon as it is ready: no notice

    def __str__(self) -> str:
        return f"hint preview #{self.pk} of {self.item}"
