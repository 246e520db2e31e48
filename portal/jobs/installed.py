"""Registering the models installed with the library (colorization.zoo) as portal models, once.

Used by `manage.py demo` and `manage.py setup_archive`. The web process never imports torch, so the installed
models are listed by a subprocess (`python -m workers.modelinfo --all`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import transaction

from portal import broker
from portal.jobs.models import ColorModel


def _installed() -> dict:
    out = subprocess.run([sys.executable, "-m", "workers.modelinfo", "--all"], capture_output=True, text=True,
                         cwd=settings.BASE_DIR, timeout=300)  # fmt: skip
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        lines = out.stderr.strip().splitlines() or ["the colorization library is not installed"]
        return {"error": lines[-1]}


def register_installed_models(
    stdout, style, later: str = "install one and run this again"
) -> ColorModel | None:
    """The default model, registering the installed ones when none is; None (with a note) when none is installed.

    The installed default becomes the default; the others (a bundled older one, say) are offered beside it so
    staff can compare side by side.
    """
    existing = ColorModel.default()
    if existing is not None:
        return existing
    answer = _installed()
    found = answer.get("default", answer)
    if found.get("error") or not found.get("path"):
        stdout.write(style.WARNING(
            "No colorization model is installed, so nothing can be colorized yet:\n  " + str(found.get("error"))
            + f"\n  Register a checkpoint later under Training (as admin), or {later}."
        ))  # fmt: skip
        return None
    name = found.get("name") or "default"
    with transaction.atomic():
        model = ColorModel.objects.create(
            name=name, zoo_name=Path(found["path"]).stem, is_default=True,
            description=f"The installed default model ({Path(found['path']).name}).",
        )  # fmt: skip
        broker.send_on_commit(model, model.inspect_task_name)
    stdout.write(f"Model: {name} ({found['path']})")
    for info in answer.get("installed", []):
        if (
            Path(info["path"]).resolve() == Path(found["path"]).resolve()
            or ColorModel.objects.filter(name=info["name"]).exists()
        ):
            continue
        with transaction.atomic():
            other = ColorModel.objects.create(
                name=info["name"], zoo_name=Path(info["path"]).stem,
                description=f"An installed model ({Path(info['path']).name}), to compare with the default.",
            )  # fmt: skip
            broker.send_on_commit(other, other.inspect_task_name)
        stdout.write(f"Also offered for comparison: {info['name']} ({info['path']})")
    return model
