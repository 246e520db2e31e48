"""What the tests share besides fixtures: media makers, the services they need, and helpers several test files use.

Fixtures stay in the conftest.py files; test files import helpers from here, never from each other or from a
conftest module.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"  # screenshots and pictures for people to look at (git-ignored)
SHARED_DATA = (
    ROOT / ".." / "shared" / "data"
)  # real archive data, where a checkout has it (tests skip without)


def run_python(code: str) -> str:
    """Run `code` in a fresh interpreter with the repository first on sys.path; its stdout (it must succeed)."""
    env_code = f"import sys; sys.path.insert(0, {str(ROOT)!r})\n" + code
    result = subprocess.run(
        [sys.executable, "-c", env_code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
