"""LPIPS (Zhang et al. 2018, "vgg" variant) from local files: the linear layers (vgg.pth, BSD-2, in
../shared/data/weights/lpips_v0.1/) AND torchvision's ImageNet VGG16 (vgg16-397923af.pth), which is not
available on this machine. Without both, `load()` raises LpipsUnavailable saying what is missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
_TAPS = (3, 8, 15, 22, 29)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in vgg16().features


class LpipsUnavailable(FileNotFoundError):
    pass


class Lpips(nn.Module):
    def __init__(self, lin_state: dict, vgg_state: dict | None):
        super().__init__()
        import torchvision

        vgg = torchvision.models.vgg16(weights=None)
        if vgg_state is not None:
            vgg.load_state_dict(vgg_state)
        self.features = vgg.features[:30].eval().requires_grad_(False)
        chans = (64, 128, 256, 512, 512)
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in chans)
        for i, lin in enumerate(self.lins):
            lin.weight.data.copy_(lin_state[f"lin{i}.model.1.weight"])
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1))
        self.eval()

    def _feats(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x * 2 - 1 - self.shift) / self.scale
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in _TAPS:
                out.append(x / (x.norm(dim=1, keepdim=True) + 1e-10))
        return out

    @torch.no_grad()
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """RGB (N, 3, H, W) in [0, 1] -> distance per image (N,)."""
        fa, fb = self._feats(a), self._feats(b)
        return sum(lin((x - y) ** 2).mean(dim=(2, 3)) for lin, x, y in zip(self.lins, fa, fb, strict=True))[
            :, 0
        ]

    def distance(self, rgb_a: np.ndarray, rgb_b: np.ndarray) -> float:
        def t(img: np.ndarray) -> torch.Tensor:
            img = img.astype(np.float32) / (255.0 if img.dtype == np.uint8 else 1.0)
            return torch.from_numpy(img).permute(2, 0, 1)[None]

        return float(self(t(rgb_a), t(rgb_b)))


def load(lin_path: str | Path | None, vgg_path: str | Path | None, random_backbone: bool = False) -> Lpips:
    if not lin_path or not Path(lin_path).is_file():
        raise LpipsUnavailable(
            f"LPIPS unavailable: linear-layer weights {lin_path or '(none given)'} not found "
            "(vgg.pth from ../shared/data/weights/lpips_v0.1/)"
        )
    if not random_backbone and (not vgg_path or not Path(vgg_path).is_file()):
        raise LpipsUnavailable(
            f"LPIPS unavailable: it needs torchvision's ImageNet VGG16 (vgg16-397923af.pth), "
            f"not found at {vgg_path or '(none given)'}; pass its path with --lpips-backbone"
        )
    lin = torch.load(lin_path, map_location="cpu", weights_only=True)
    vgg = None if random_backbone else torch.load(vgg_path, map_location="cpu", weights_only=True)
    return Lpips(lin, vgg)
