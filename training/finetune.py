"""Fine-tuning a shipped model on new material: the config that continues it, and its decoding kept.

A retraining run starts from the current default rather than from nothing: the same architecture (its
checkpoint's `model_args`), the same loss and hint sampling (its `train_config`, where the checkpoint stores
one), `init_from` its weights, at a gentle learning rate, and the decoding the default was tuned with
(temperature, chroma gain, ab smoothing, mirror averaging) is kept rather than tuned again on a few new frames.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from colorization import checkpoint
from colorization.models import UNetConfig
from training.config import TrainConfig, from_dict

GENTLE_LR_FACTOR = 0.1  # a tenth of the learning rate the model was trained with: adapt, do not start over
WARMUP_STEPS = 20
# the base's settings that describe where it was trained, not what it is: a fine-tuning run sets its own
RUN_KEYS = ("name", "out_dir", "resume", "init_from", "dataset", "source_weights", "encoder_weights")
DECODING = ("temperature", "chroma_gain", "ab_smoothing", "flip_average")  # model_args decoding keys


def base_settings(base: str | Path) -> dict[str, Any]:
    """The TrainConfig values that rebuild and continue `base`: its train_config (known keys only), its
    model_args over it, and the loss its head is trained with when it stores no train_config."""
    ckpt = checkpoint.load(base)
    known = {f.name for f in fields(TrainConfig)}
    values = {k: v for k, v in (ckpt.get("train_config") or {}).items() if k in known and k not in RUN_KEYS}
    values.update({k: v for k, v in ckpt["model_args"].items() if k in known})
    if "loss" not in values or (values["loss"] == "bins") != (values.get("head") == "bins"):
        values["loss"] = "bins" if values.get("head") == "bins" else "mse"
    return values


def config_for(base: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The config that fine-tunes `base` (a checkpoint path); `overrides` (TrainConfig keys) win."""
    values = base_settings(base)
    values.update(
        init_from=str(base),
        lr=float(values.get("lr", TrainConfig.lr)) * GENTLE_LR_FACTOR,
        warmup_steps=min(int(values.get("warmup_steps", WARMUP_STEPS)), WARMUP_STEPS),
        tune_decoding=False,  # keep the base's decoding (keep_decoding), tuned on far more frames
    )
    values.update(overrides or {})
    return from_dict(values)


def keep_decoding(trained: str | Path, base: str | Path, half: bool = True) -> None:
    """Give the fine-tuned checkpoint the base's decoding settings (rewritten atomically, all else kept)."""
    wanted = {k: v for k, v in checkpoint.load(base)["model_args"].items() if k in DECODING}
    model, ckpt = checkpoint.load_model(trained)
    if all(getattr(model.config, k, None) == v for k, v in wanted.items()):
        return
    for k, v in wanted.items():
        if k in {f.name for f in fields(UNetConfig)}:
            setattr(model.config, k, v)
    own = ("format", "arch", "model_args", "state_dict", "created")
    extra = {k: v for k, v in ckpt.items() if k not in own}
    checkpoint.save(trained, model, arch=ckpt["arch"], half=half, **extra)
