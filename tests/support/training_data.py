"""Pictures for the training tests: colourful, different per seed, and the split shares small data needs."""

from __future__ import annotations

import numpy as np

SPLITS = (0.5, 0.25, 0.25)  # small data: wider val/test shares so every split gets frames


def colour_image(seed: int, height: int = 60, width: int = 80) -> np.ndarray:
    """A colourful, bright picture with structure (smooth colour field + a disc), different per seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(60, 200, 3)
    slope = rng.uniform(-1.5, 1.5, (3, 2))
    img = np.stack([base[c] + slope[c, 0] * x + slope[c, 1] * y for c in range(3)], -1)
    cx, cy, r = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height, rng.uniform(8, 20)
    img[(x - cx) ** 2 + (y - cy) ** 2 < r**2] = rng.uniform(40, 240, 3)
    return img.clip(0, 255).astype(np.uint8)
