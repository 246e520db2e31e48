"""Where a waiting colorization stands: its place on the gpu queue and a rough wait, from recent durations."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from statistics import median

from portal.jobs.models import ACTIVE, ColorizationRequest, Status, TrainingRun

RECENT = 20  # finished requests whose durations make the estimate


@dataclass
class Place:
    position: int  # 1: next to start
    minutes: int | None  # about this long until it starts; None without finished requests to go by
    training_ahead: bool  # a training run shares the queue and is ahead (its length is not estimated)


def typical_seconds() -> float | None:
    """The median run time of the last RECENT finished colorizations."""
    rows = ColorizationRequest.objects.filter(
        status=Status.DONE, started__isnull=False, finished__isnull=False
    )
    spans = [
        (f - s).total_seconds()
        for s, f in rows.order_by("-finished").values_list("started", "finished")[:RECENT]
    ]
    return median(spans) if spans else None


def place(req: ColorizationRequest, typical: float | None = None) -> Place | None:
    """The place of a waiting request (None when it is not waiting): requests running or queued before it
    are ahead of it."""
    if req.status != Status.PENDING:
        return None
    ahead = (
        ColorizationRequest.objects.filter(status=Status.RUNNING).count()
        + ColorizationRequest.objects.filter(status=Status.PENDING, created__lt=req.created).count()
    )
    training = TrainingRun.objects.filter(status__in=ACTIVE, created__lt=req.created).exists()
    minutes = None if typical is None else max(1, round(ahead * typical / 60))
    return Place(position=ahead + 1, minutes=minutes if ahead else None, training_ahead=training)


def ahead_of(reqs) -> dict[int, int]:
    """How many requests are ahead of each waiting one among `reqs` (as place() counts them: the running ones
    and those waiting since before it), in two queries for a whole page of them."""
    waiting = [r for r in reqs if r.status == Status.PENDING]
    if not waiting:
        return {}
    running = ColorizationRequest.objects.filter(status=Status.RUNNING).count()
    queued = sorted(
        ColorizationRequest.objects.filter(status=Status.PENDING).values_list("created", flat=True)
    )
    return {r.pk: running + bisect_left(queued, r.created) for r in waiting}
