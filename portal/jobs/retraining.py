"""What a retraining run needs, said in an admin's words: the person filter's detector, and enough material.

The web form checks what it can before a run is queued; the worker checks the built dataset before fitting.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

MIN_SOURCES = 3  # each film or photograph goes whole into one of three splits (training, validation, test)
DEFAULT_BATCH = 16  # TrainConfig.batch_size's default (the web process never imports training); the worker
# checks the dataset against the run's own batch size

MATERIAL_NOTE = (
    f"A run needs at least one batch of frames ({DEFAULT_BATCH} by default) in the training split and some frames in "
    "the validation and test splits. Each film or photograph goes whole into one split, by chance (about 81 %, "
    "9 % and 10 %), and a film gives at most one frame a second after dark, grey and repeated frames are "
    "dropped: start with ten or more colour films of a minute or longer, or a hundred colour photographs."
)


def detector_path() -> str:
    return settings.PERSON_DETECTOR or ""


def detector_problem() -> str | None:
    """Why the person filter cannot run here, or None when its weights are in place."""
    path = detector_path()
    if not path:
        return (
            "The person filter is unavailable: no detector is configured (the setting "
            "COLORARCHIVE_PERSON_DETECTOR names its weights file)."
        )
    if not Path(path).is_file():
        return f"The person filter is unavailable: its detector weights are not at {path}."
    return None


def material_problem(sources: int) -> str | None:
    """Why the ingested material cannot make a run, or None when it may (the worker checks the frames)."""
    if sources < MIN_SOURCES:
        return (
            f"There {'is' if sources == 1 else 'are'} {sources or 'no'} training film{'' if sources == 1 else 's'} "
            f"or photograph{'' if sources == 1 else 's'} yet; a run needs at least {MIN_SOURCES}, one for each of "
            "the training, validation and test splits. Add colour films or photographs on the right."
        )
    return None


def dataset_problem(splits: dict, batch_size: int) -> str | None:
    """Why the built dataset cannot train a model (frames per split from its manifest), or None."""
    frames = {name: int((splits.get(name) or {}).get("frames", 0)) for name in ("train", "val", "test")}
    short = []
    if frames["train"] < batch_size:
        short.append(f"the training split has {frames['train']} frames and one batch needs {batch_size}")
    short += [f"the {label} split has no frames" for name, label in (("val", "validation"), ("test", "test"))
              if not frames[name]]  # fmt: skip
    if not short:
        return None
    return (
        f"Not enough training material: {'; '.join(short)}. Add more colour films or photographs (each goes "
        "whole into one split, by chance), or, with a few long films, split them by scene: put "
        'build.split_by="scene" under Other settings.'
    )
