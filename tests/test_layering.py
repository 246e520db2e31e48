"""The import boundaries (CONTRIBUTING.md, "Where things live"), each checked in a fresh interpreter."""

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


def test_media_package_is_torch_free():
    out = _run(
        "import colorization.media, colorization.media.previews\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'training', 'django')))"
    )
    assert out == "[]"


def test_web_process_never_imports_torch_and_uses_only_the_media_package_and_hints():
    pytest.importorskip("django")
    allowed = set(
        _run(
            "import colorization.media, colorization.hints\n"
            "print(' '.join(m for m in sys.modules if m.startswith('colorization')))"
        ).split()
    )
    assert {"colorization.media.policy", "colorization.hints"} <= allowed
    out = _run(
        "import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'portal.settings')\n"
        "import django; django.setup()\n"
        "import portal.urls, portal.wsgi, portal.celery, workers.tasks\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'training', 'torchvision', 'cv2')))\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('colorization'))))"
    )
    heavy, colorization_modules = (out.splitlines() + [""])[:2]
    assert heavy == "[]"
    assert "colorization.media" in colorization_modules.split()  # the upload check uses the policy
    assert "colorization.hints" in colorization_modules.split()  # the hint check uses the library's parse
    assert set(colorization_modules.split()) <= allowed  # and nothing else of the library
