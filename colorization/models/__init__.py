"""Architectures (a closed set: a plain dict) and the factory that rebuilds a model from a checkpoint."""

from __future__ import annotations

from colorization.models.unet import UNet, UNetConfig, scale_chroma, smooth_ab

ARCHS = {"unet": (UNet, UNetConfig)}


def create_model(arch: str, **model_args):
    if arch not in ARCHS:
        raise KeyError(f"unknown architecture {arch!r}; known: {sorted(ARCHS)}")
    cls, config_cls = ARCHS[arch]
    return cls(config_cls(**model_args))


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["ARCHS", "UNet", "UNetConfig", "create_model", "count_parameters", "scale_chroma", "smooth_ab"]
