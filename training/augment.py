"""Degradation augmentation for the input L: what archive photos and film suffer (docs/method.md: the domain gap).

Each effect is applied with probability 1/2 using torch's generator (seeded per DataLoader worker):
fading (lower contrast, lifted blacks), blur, film grain, vertical scratches and dust specks.
The target ab stays clean: the network learns to colour through the damage.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _u(lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand(()))


def degrade(L: torch.Tensor) -> torch.Tensor:
    """L (1, H, W) in [0, 1] -> a degraded copy in [0, 1]."""
    x = L.clone()
    _, h, w = x.shape
    if torch.rand(()) < 0.5:  # fading: contrast squeezed towards a lifted mid-gray
        c = _u(0.6, 0.95)
        x = x * c + _u(0.02, 0.15) * (1 - c) + (1 - c) * 0.3
    if torch.rand(()) < 0.5:  # blur (out of focus / soft lens)
        sigma = _u(0.5, 1.5)
        k = torch.arange(-3, 4, dtype=x.dtype)
        g = torch.exp(-(k**2) / (2 * sigma**2))
        g = g / g.sum()
        x = F.conv2d(F.pad(x[None], (3, 3, 0, 0), mode="replicate"), g.view(1, 1, 1, 7))
        x = F.conv2d(F.pad(x, (0, 0, 3, 3), mode="replicate"), g.view(1, 1, 7, 1))[0]
    if torch.rand(()) < 0.5:  # grain
        x = x + torch.randn_like(x) * _u(0.01, 0.05)
    if torch.rand(()) < 0.5:  # scratches (thin vertical lines) and dust specks
        for _ in range(int(torch.randint(1, 4, ()))):
            col = int(torch.randint(0, w, ()))
            top = int(torch.randint(0, h // 2 + 1, ()))
            x[:, top : top + int(torch.randint(h // 4, h + 1, ())), col] = _u(0.0, 1.0)
        n = int(torch.randint(0, 20, ()))
        if n:
            ys, xs = torch.randint(0, h, (n,)), torch.randint(0, w, (n,))
            x[:, ys, xs] = torch.rand(n).round()
    return x.clamp(0.0, 1.0)
