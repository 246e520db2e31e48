"""The [train] extra's packages are checked before a dataset build or a fit starts, not met hours later."""

import subprocess
import sys
from pathlib import Path

import training

ROOT = Path(__file__).resolve().parents[2]


def test_nothing_is_missing_where_the_train_extra_is_installed():
    assert training.missing_requirements() is None


def test_an_interpreter_without_the_train_extra_is_told_what_to_install():
    # -S: no site-packages, so neither imagehash nor matplotlib can be found (training/__init__ needs neither)
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import training; print(training.missing_requirements())"
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "imagehash, matplotlib are not installed" in out and "pip install -e '.[train]'" in out
