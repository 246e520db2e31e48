"""The rule for missing services (tests/support/services.py): a test that needs one skips where it is absent, and
fails instead under COLORARCHIVE_REQUIRE_SERVICES=1, naming it and how to get it. Missing data still skips.

Each case runs a small test file in a fresh pytest, with a PATH on which there is no nginx."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

NEEDS_NGINX = """
import pytest

from tests.support.services import require_service


def test_asks_for_nginx():
    require_service("nginx", "this test runs nginx")


@pytest.mark.service("nginx", "this test runs nginx too")
def test_marked_for_nginx():
    pass


def test_needs_shared_data():
    pytest.skip("needs ../shared/data (shared data not present)")
"""


def _run_pytest(folder: Path, require: str | None) -> subprocess.CompletedProcess:
    (folder / "test_tiny.py").write_text(NEEDS_NGINX)
    (folder / "pytest.ini").write_text("[pytest]\nmarkers =\n    service(name, why): needs that service\n")
    # the suite's own hook, which reads the `service` marker
    (folder / "conftest.py").write_text("from tests.conftest import pytest_runtest_setup  # noqa: F401\n")
    empty = folder / "bin"
    empty.mkdir(exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_SETTINGS_MODULE", "COLORARCHIVE_REQUIRE_SERVICES")
    }
    env.update(PATH=str(empty), PYTHONPATH=str(ROOT))
    if require is not None:
        env["COLORARCHIVE_REQUIRE_SERVICES"] = require
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider", "-p", "no:django", "test_tiny.py"],
        cwd=folder, env=env, capture_output=True, text=True,
    )  # fmt: skip


def test_a_missing_service_skips_the_test_with_its_reason(tmp_path):
    run = _run_pytest(tmp_path, require=None)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 skipped" in run.stdout, run.stdout
    assert (
        "this test runs nginx: nginx is missing; get nginx on the PATH (apt-get install nginx)" in run.stdout
    )


def test_a_missing_service_fails_the_run_where_services_are_required(tmp_path):
    run = _run_pytest(tmp_path, require="1")
    assert run.returncode == 1, run.stdout + run.stderr
    # in the test body a failure, in the marker's check (setup) an error: either fails the run
    assert "1 failed, 1 skipped, 1 error" in run.stdout, run.stdout
    assert run.stdout.count("nginx is missing; get nginx on the PATH (apt-get install nginx)") >= 2, (
        run.stdout
    )
    assert "COLORARCHIVE_REQUIRE_SERVICES=1" in run.stdout
    assert "shared data not present" in run.stdout  # missing data is not a service: still a skip
