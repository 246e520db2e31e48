"""RELIABILITY.md maps each promise to the test that proves it: every test it names must exist, so a renamed or
removed test cannot leave a promise pointing at nothing."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `tests/portal/test_x.py::test_y`, `test_x.py::test_y` (a file named once in full before), `::test_z` (the same
# file as the reference before it in the row)
REFERENCE = re.compile(r"`((?:tests/(?:[\w/]+/)?)?test_\w+\.py)?(?:::(test_\w+))?")


def _file(name: str) -> Path | None:
    if "/" in name:
        return ROOT / name if (ROOT / name).exists() else None
    found = sorted((ROOT / "tests").rglob(name))
    return found[0] if len(found) == 1 else None


def test_every_test_reliability_md_names_exists():
    text = (ROOT / "RELIABILITY.md").read_text()
    named, missing = 0, []
    for row in (line for line in text.splitlines() if line.startswith("|")):
        current = None
        for name, test in REFERENCE.findall(row):
            if name:
                current = _file(name)
                if current is None:
                    missing.append(name)
                    continue
            if test:
                named += 1
                if current is None or not re.search(rf"^def {test}\(", current.read_text(), re.M):
                    missing.append(f"{current}::{test}")
    assert named > 50 and missing == [], missing


def test_each_fault_of_issue_30_names_a_test_or_says_it_is_not_yet_covered():
    text = (ROOT / "RELIABILITY.md").read_text()
    section = text.split("### Issue 30, fault by fault", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| Fault")]
    assert len(rows) >= 12
    for row in rows:
        proved_by = row.rstrip(" |").rsplit(" | ", 1)[1]
        assert "::test_" in proved_by or "tests/" in proved_by or proved_by.startswith("not yet covered"), row
