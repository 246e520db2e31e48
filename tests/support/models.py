"""Model checkpoints the tests make (the plain tiny model is the `tiny_model` fixture)."""

from __future__ import annotations

from pathlib import Path


def hinted_checkpoint(path: Path) -> Path:
    """A tiny model that takes hints, its hint channels made non-zero (as the library's `hint_models` fixture
    does, and larger, so that the change shows in an 8-bit JPEG)."""
    import torch

    from colorization import checkpoint
    from colorization.models import UNet, UNetConfig

    torch.manual_seed(1)
    model = UNet(UNetConfig(width=4, head="bins", coords=True, hints=True))
    with torch.no_grad():
        model.down[0][0].weight[:, 3:] = torch.randn_like(model.down[0][0].weight[:, 3:]) * 30
    return checkpoint.save(path, model, name="hinted")
