"""The import boundaries of STYLE.md section 7, each checked in a fresh interpreter."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> str:
    env_code = f"import sys; sys.path.insert(0, {str(ROOT)!r})\n" + code
    result = subprocess.run(
        [sys.executable, "-c", env_code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_libraries_never_import_django_or_celery():
    out = _run(
        "import colorization, colorization.cli, colorization.pipeline, colorization.stages, training\n"
        "import training.cli, training.train\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'celery', 'portal', 'workers')))"
    )
    assert out == "[]"


def test_colorization_never_imports_training():
    out = _run(
        "import colorization, colorization.cli, colorization.stages\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'training'))"
    )
    assert out == "[]"


def test_web_process_never_imports_torch():
    pytest.importorskip("django")
    out = _run(
        "import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'portal.settings')\n"
        "import django; django.setup()\n"
        "import portal.urls, portal.wsgi, portal.celery, workers.tasks\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'colorization', 'training', 'torchvision')))"
    )
    assert out == "[]"
