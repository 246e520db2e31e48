"""Self-describing checkpoints: everything inference needs travels in the file.

A checkpoint is a plain dict saved with `torch.save` and read back with `torch.load(weights_only=True)`,
so loading one can never run code:

    {"format": "colorarchive-checkpoint/1",
     "arch": "unet", "model_args": {...},                       # rebuilds the network (nanoGPT)
     "data_cfg": {"space": "lab", "size": 224, "l_scale": 100, "ab_scale": 128},  # preprocessing (timm)
     "state_dict": {...},
     "name": "unet-mse", "version": "1", "created": "...",
     "step": n, "train_config": {...}, "train_summary": {...}, "metrics": {...}}

Training may add more keys (optimizer state for resuming); inference ignores them.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from colorization.color import AB_SCALE, L_SCALE
from colorization.media.files import atomic_path
from colorization.model_cards import plain_sentence
from colorization.models import ARCHS, create_model

FORMAT = "colorarchive-checkpoint/1"
DEFAULT_DATA_CFG = {"space": "lab", "size": 224, "l_scale": L_SCALE, "ab_scale": AB_SCALE}
HOW_TO_GET_A_MODEL = (
    "train one with `colorize-train fit`, or put a checkpoint (.pt) in the models directory "
    "(see `colorize models`)"
)


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or not one of ours; the message says which and what to do."""


def save(
    path: str | os.PathLike,
    model: torch.nn.Module,
    *,
    arch: str = "unet",
    name: str | None = None,
    version: str = "1",
    data_cfg: dict | None = None,
    half: bool = False,
    **extra: Any,
) -> Path:
    """Write atomically (temporary name, then rename). `half` stores fp16 weights (half the size)."""
    path = Path(path)
    state = {
        k: (v.half() if half and v.is_floating_point() else v).detach().cpu()
        for k, v in model.state_dict().items()
    }
    ckpt = {
        "format": FORMAT,
        "arch": arch,
        "model_args": model.config.to_dict(),
        "data_cfg": dict(data_cfg or DEFAULT_DATA_CFG),
        "state_dict": state,
        "name": name or path.stem,
        "version": str(version),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **extra,
    }
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)
    return path


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read and validate a checkpoint dict (no code runs: weights_only=True)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model checkpoint {path} does not exist: {HOW_TO_GET_A_MODEL}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors all mean the same thing to a user
        raise CheckpointError(
            f"{path} is not a readable model checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
            f"{HOW_TO_GET_A_MODEL}"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a Colorarchive checkpoint (no '{FORMAT}' header); {HOW_TO_GET_A_MODEL}"
        )
    if ckpt.get("arch") not in ARCHS:
        raise CheckpointError(
            f"{path} needs architecture {ckpt.get('arch')!r}, which this version does not know"
        )
    return ckpt


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild the network a checkpoint describes, in eval mode and float32, on `device`."""
    ckpt = load(path)
    try:
        model = create_model(ckpt["arch"], **ckpt["model_args"])
        model.load_state_dict({k: v.float() for k, v in ckpt["state_dict"].items()})
    except (TypeError, RuntimeError, KeyError) as exc:
        raise CheckpointError(
            f"{path} does not match its declared architecture: {str(exc).splitlines()[0][:200]}"
        ) from None
    model.eval().to(device)
    return model, ckpt


def summary(path: str | os.PathLike) -> dict[str, Any]:
    """What a checkpoint says about itself (name, version, architecture, metrics, parameter count, the plain
    sentence of its card), as JSON values; no weights are kept in memory."""
    from colorization.models import count_parameters

    ckpt = load(path)
    keep = ("name", "version", "created", "arch", "model_args", "data_cfg", "step", "metrics")
    info = {k: ckpt[k] for k in keep if k in ckpt}
    info["parameters"] = count_parameters(create_model(ckpt["arch"], **ckpt["model_args"]))
    info["file"] = Path(path).name
    info["card"] = plain_sentence(ckpt)  # what it is good and bad at, for the AI label (model_cards.py)
    return info
