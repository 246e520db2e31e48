"""Built-in stages. Importing a module registers its stages: add one import line per new module.

The registry's functions are offered here too, so that a lookup through this package finds the built-ins
registered (the registry itself imports none of them).
"""

from colorization.registry import KINDS, available, choices, create, label, options, register
from colorization.stages import colorize, io, keyframes, postprocess, preprocess, temporal, video  # noqa: F401

__all__ = ["KINDS", "available", "choices", "create", "label", "options", "register"]
