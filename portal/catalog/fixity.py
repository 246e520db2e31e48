"""Fixity: an original's bytes are checked against the SHA-256 and size recorded when it was accepted.

Checked right after storing (ingest), before every colorization (workers) and by `manage.py fixity_check`
(scheduled). A mismatch marks the item (`fixity_error`), which stops colorization and shows on the item's
page and in the admin; the original itself is never touched.
"""

from __future__ import annotations

from django.db.models.fields.files import FieldFile
from django.utils import timezone

from colorization.media import sha256_stream


def compare(found: tuple[str, int], sha256: str, size: int) -> str:
    """Why bytes with digest and size `found` (`colorization.media.sha256_stream`) are not the ones recorded
    ("" when they are)."""
    found_sha, found_size = found
    if found_size != size:
        return f"The stored original has {found_size:,} bytes, not the {size:,} recorded at upload."
    if found_sha != sha256:
        return f"The stored original's SHA-256 is {found_sha}, not the {sha256} recorded at upload."
    return ""


def mismatch(field: FieldFile, sha256: str, size: int) -> str:
    """Why the file in storage is not the one recorded ("" when it is)."""
    try:
        with field.storage.open(field.name, "rb") as f:
            found = sha256_stream(f)
    except FileNotFoundError:
        return f"The stored original {field.name} is missing."
    return compare(found, sha256, size)


def record(item, problem: str) -> None:
    """Write a check's outcome on the item's row (a mismatch stays until an administrator resolves it)."""
    type(item).objects.filter(pk=item.pk).update(fixity_error=problem, fixity_checked=timezone.now())
    item.fixity_error = problem


def check_item(item) -> str:
    """Verify one item's original in storage and record the outcome; returns the problem ("" when sound)."""
    problem = mismatch(item.original, item.sha256, item.size)
    record(item, problem)
    return problem


def check_all(pks: list[int] | None = None) -> tuple[int, list[tuple[object, str]]]:
    """Check every original (or those with these ids); returns how many were checked and the failures."""
    from portal.catalog.models import Item

    items = Item.objects.exclude(original="").order_by("pk")  # a record without its file has nothing to check
    if pks:
        items = items.filter(pk__in=pks)
    checked, failures = 0, []
    for item in items.iterator():
        checked += 1
        problem = check_item(item)
        if problem:
            failures.append((item, problem))
    return checked, failures
