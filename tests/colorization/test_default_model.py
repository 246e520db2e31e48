"""The shipped default model: what it costs per frame, and that it follows colour hints."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from colorization import checkpoint, hints, zoo

BUDGET = 16e9  # FLOPs per 224 x 224 frame (MODEL_CARD.md)


def _default():
    return checkpoint.load_model(zoo.resolve_model("default"), "cpu")[0].float().eval()


def test_the_default_model_costs_at_most_16_gflops_per_224_frame():
    model = _default()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.rand(1, 1, 224, 224))
    assert counter.get_total_flops() <= BUDGET, f"{counter.get_total_flops() / 1e9:.1f} GFLOPs"


def test_the_default_model_follows_a_colour_hint():
    """A grey sky-like gradient with a strong blue hint in it comes out bluer around the hint than without."""
    model = _default()
    assert model.config.hints, "the default model takes colour hints"
    y = np.linspace(0.75, 0.55, 224, dtype=np.float32)[:, None].repeat(224, 1)
    L = torch.from_numpy(y)[None, None]
    given = [
        hints.Hint(0.5, 0.3, "#1f5fbf"),
        hints.Hint(0.3, 0.2, "#1f5fbf"),
        hints.Hint(0.7, 0.2, "#1f5fbf"),
    ]
    channels = torch.from_numpy(hints.render(given, 224, 224))[None]
    with torch.no_grad():
        plain, hinted = model(L), model(L, hints=channels)
    region = (slice(None), slice(1, 2), slice(40, 80), slice(60, 170))  # b around the hints
    assert float(hinted[region].mean()) < float(plain[region].mean()) - 0.05  # b down: bluer
