"""Colorarchive's colorization library: Lab colour, the thesis U-Net, checkpoints and a stage pipeline.

Pure library: no Django, no Celery. Heavy modules (torch, av) are imported where they are used, and the names
below load on first use, so `import colorization.media` (the web process's upload check) loads only media.

    from colorization import colorize_file
    colorize_file("scan.tif", "out/scan.jpg", preset="photo", model="default")
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "FileResult": "colorization.api",
    "colorize_file": "colorization.api",
    "colorize_files": "colorization.api",
    "colorize_image": "colorization.api",
    "Decoded": "colorization.frames",
    "Frame": "colorization.frames",
    "FrameWindow": "colorization.frames",
    "Pipeline": "colorization.pipeline",
    "RunResult": "colorization.pipeline",
    "build_pipeline": "colorization.pipeline",
    "available": "colorization.stages",  # the registry's lookups, with the built-in stages registered
    "create": "colorization.stages",
    "register": "colorization.registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'colorization' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
