"""Colorarchive's colorization library: Lab colour, the thesis U-Net, checkpoints and a stage pipeline.

Pure library: no Django, no Celery. Heavy modules (torch, av) are imported where they are used.
"""

from colorization.pipeline import Pipeline, RunResult, build_pipeline
from colorization.registry import available, create, register

__all__ = ["Pipeline", "RunResult", "available", "build_pipeline", "create", "register"]
