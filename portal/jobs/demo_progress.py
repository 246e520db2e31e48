"""The demo's colorizations, shown while they run: `manage.py demo` serves its first page at once and colorizes
the demo items in the background; it names their requests in settings.DEMO_REQUEST_IDS (set in its own process
only), and every page shows how far they are until all have finished."""

from __future__ import annotations

from django.conf import settings

from portal.jobs.models import ACTIVE, ColorizationRequest, Status


def progress(ids: list[int]) -> dict:
    """{"total", "done", "failed", "waiting", "running": ["title 40%", ...], "finished": bool}."""
    counts = {s: 0 for s in Status.values}
    running = []
    for req in ColorizationRequest.objects.filter(pk__in=ids).select_related("item"):
        counts[req.status] += 1
        if req.status == Status.RUNNING:
            running.append(f"{req.item.title} {req.percent}%")
    active = sum(counts[s] for s in ACTIVE)
    return {"total": len(ids), "done": counts[Status.DONE], "failed": counts[Status.FAILED],
            "waiting": counts[Status.PENDING], "running": running, "finished": not active}  # fmt: skip


def line(p: dict) -> str:
    text = f"{p['done']} of {p['total']} done, {p['waiting']} waiting"
    if p["failed"]:
        text += f", {p['failed']} failed"
    return text + (f"; now: {', '.join(p['running'])}" if p["running"] else "")


def active() -> dict | None:
    """The progress while the demo's colorizations run, else None (after the last one, no more queries).
    Before they are queued (the workers starting, settings.DEMO_PREPARING: how many items will be colorized),
    none is done and all wait."""
    ids = getattr(settings, "DEMO_REQUEST_IDS", None)
    if not ids and (count := getattr(settings, "DEMO_PREPARING", 0)):
        return {"total": count, "done": 0, "failed": 0, "waiting": count, "running": [], "finished": False,
                "preparing": True}  # fmt: skip
    if not ids:
        return None
    p = progress(ids)
    if p["finished"]:
        settings.DEMO_REQUEST_IDS = None
        return None
    return p


def banner(request) -> dict:
    """Template context: `demo_progress` for the banner in base.html."""
    return {"demo_progress": active()}
