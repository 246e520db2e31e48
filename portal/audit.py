"""The audit trail as people read it: who changed what and when, from django-simple-history's records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import models

KINDS = {"+": "created", "~": "changed", "-": "deleted"}
HIDDEN = {
    "id",
    "sha256",
    "original",
    "thumbnail",
    "preview",
    "result",
    "result_preview",
    "updated",
    "attempts",
}


@dataclass
class Entry:
    when: datetime
    who: str
    kind: str
    changes: list[str] = field(default_factory=list)


def _shown(record, f: models.Field) -> str:
    if isinstance(f, models.ForeignKey):
        try:
            related = getattr(record, f.name)
        except models.ObjectDoesNotExist:
            related = None
        return str(related) if related is not None else "—"
    value = getattr(record, f.attname)
    if f.choices:
        return str(dict(f.flatchoices).get(value, value)) or "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "—" if value in (None, "") else str(value)[:120]


def entries(obj, limit: int = 50) -> list[Entry]:
    """The newest `limit` changes of `obj`, each with the fields it changed (old → new)."""
    records = list(
        obj.history.select_related("history_user").order_by("-history_date", "-history_id")[: limit + 1]
    )
    fields = [f for f in obj.history.model.tracked_fields if f.name not in HIDDEN]
    out = []
    for record, previous in zip(records, records[1:] + [None], strict=False):
        if len(out) == limit:
            break
        changes = []
        if previous is not None and record.history_type == "~":
            for f in fields:
                if getattr(record, f.attname) != getattr(previous, f.attname):
                    changes.append(f"{f.verbose_name}: {_shown(previous, f)} → {_shown(record, f)}")
        if record.history_type == "~" and not changes:
            continue  # a save that changed nothing shown here (a file, a timestamp)
        who = str(record.history_user) if record.history_user else "a worker or the system"
        out.append(Entry(record.history_date, who, KINDS.get(record.history_type, "changed"), changes))
    return out
