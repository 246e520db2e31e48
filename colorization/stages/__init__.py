"""Built-in stages. Importing a module registers its stages: add one import line per new module."""

from colorization.stages import colorize, io, postprocess, preprocess, temporal, video  # noqa: F401
