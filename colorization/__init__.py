"""Colorarchive's colorization library: Lab colour, the thesis U-Net, checkpoints and a stage pipeline.

Pure library: no Django, no Celery. Heavy modules (torch, av) are imported where they are used.

    from colorization import colorize_file
    colorize_file("scan.tif", "out/scan.jpg", preset="photo", model="default")
"""

from colorization import stages  # noqa: F401  (importing it registers the built-in stages)
from colorization.api import FileResult, colorize_file, colorize_files, colorize_image
from colorization.frames import Decoded, Frame
from colorization.pipeline import Pipeline, RunResult, build_pipeline
from colorization.registry import available, create, register

__all__ = [
    "Decoded",
    "FileResult",
    "Frame",
    "Pipeline",
    "RunResult",
    "available",
    "build_pipeline",
    "colorize_file",
    "colorize_files",
    "colorize_image",
    "create",
    "register",
]
