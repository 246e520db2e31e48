"""The embedded default's own code paths when the suite runs on PostgreSQL (as CI does): the search and API filter
tests (accents both ways, facets, sort orders, shareable addresses, list filters) and the SQLite-only ones (the
normalised search column, the respelling of typed words) run again in a pytest on SQLite, so both databases are
tested in one run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.db import connection

from tests.support import ROOT

SQLITE_ONLY = ["tests/portal/test_portal_search_column.py", "tests/portal/test_portal_search_spelling.py"]
ON_BOTH = ["tests/portal/test_portal_search_accents.py", "tests/portal/test_portal_search_facets.py",
           "tests/portal/test_portal_api_filters.py"]  # fmt: skip


@pytest.mark.skipif("connection.vendor == 'sqlite'", reason="this run is on SQLite: those tests ran in it")
def test_the_search_tests_pass_on_sqlite_too():
    assert connection.vendor == "postgresql"
    env = {
        k: v for k, v in os.environ.items() if k not in ("COLORARCHIVE_TEST_DATABASE_URL", "PYTEST_ADDOPTS")
    }
    env["COLORARCHIVE_TEST_SQLITE"] = "1"
    env.pop("COLORARCHIVE_REQUIRE_SERVICES", None)  # the PostgreSQL-only cases of those files skip there
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *SQLITE_ONLY, *ON_BOTH],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert "SQLite's respelling" not in out and "SQLite's search path" not in out, out[-4000:]
    assert " passed" in out
