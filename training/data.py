"""FrameDataset: (L, ab) pairs from a built frame dataset, read through memory maps (no full load).

Returns L / 100 as (1, H, W) and ab / 128 as (2, H, W) float32 (the thesis normalization). Frames come in
the sizes the build stored (224 px, or smaller squares such as 128 px scene photographs); `batches_by_size`
groups whole frames of one size for validation. Training can take random crops and flips, a degraded copy of
L (grain, blur, scratches, fading) as the input while the target stays clean, and colour hints sampled from
the true colour (`sample_hints`). Randomness comes from torch's generator, which the DataLoader seeds per worker from
the training seed, so runs are reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from colorization.color import AB_SCALE
from colorization.models.unet import HINT_CHANNELS
from training.build_dataset import SIZE, BuildError, load_manifest, read_index


def source_folders(root: str | Path) -> dict[str, str]:
    """Each source's short id (the index's "source" column) -> the name of the folder it came from
    ("utkface", "bsds500", "people"): the unit that `source_weights` and the evaluation's breakdown use."""
    manifest = load_manifest(Path(root)) or {"sources": []}
    return {s["sha256"][:16]: Path(s["path"]).parent.name for s in manifest["sources"]}


def parse_source_weights(items: list[str], known: set[str]) -> dict[str, float]:
    """["utkface=0.2", "bsds500=2"] -> {"utkface": 0.2, "bsds500": 2.0}; unknown folders fail loudly."""
    weights: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if not sep or weight < 0:
            raise ValueError(
                f"source weight {item!r} must look like folder=weight, with a weight of 0 or more"
            )
        if name not in known:
            raise ValueError(
                f"source weight {item!r}: no source folder {name!r} in the dataset; known: {sorted(known)}"
            )
        weights[name] = weight
    return weights


class FrameDataset(Dataset):
    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        crop: int = 0,
        flip: bool = False,
        degrade_p: float = 0.0,
        fraction: float = 1.0,
        with_box: bool = False,
        hints: HintSampling | None = None,
    ):
        self.root = Path(root)
        if load_manifest(self.root) is None:
            raise BuildError(f"{self.root}: no manifest.json (build the dataset with `colorize-train build`)")
        rows = [r for r in read_index(self.root) if r["split"] == split]
        if fraction < 1.0:  # a fixed, evenly spaced subset (the same every epoch)
            rows = rows[:: max(1, round(1 / fraction))]
        self.rows = [(r["shard"], int(r["row"])) for r in rows]
        self.groups = [r["group"] for r in rows]
        folders = source_folders(self.root)
        self.folders = [folders.get(r["source"], "?") for r in rows]  # where each frame came from
        self.split, self.crop, self.flip, self.degrade_p = split, crop, flip, degrade_p
        self.with_box = with_box  # also return where the sample lies in its frame (UNetConfig.coords)
        self.hints = hints  # also return hint channels sampled from the truth (UNetConfig.hints)
        # None: crops, flips, damage and hints come from torch's global generator; a number: each frame's from
        # its own generator seeded by (seed, index), the same whichever process or worker loads it
        self.seed: int | None = None
        manifest = load_manifest(self.root) or {}
        shard_size = {s["name"]: int(s.get("size", SIZE)) for s in manifest.get("shards", [])}
        self.sizes = [shard_size.get(shard, SIZE) for shard, _ in self.rows]  # each frame's side, px
        self._maps: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def batches_by_size(self, batch_size: int) -> list[list[int]]:
        """Indices in order, cut into batches whose frames share one size (whole frames cannot be stacked
        otherwise)."""
        batches: list[list[int]] = []
        by_size: dict[int, list[int]] = {}
        for i, side in enumerate(self.sizes):
            batch = by_size.setdefault(side, [])
            batch.append(i)
            if len(batch) == batch_size:
                batches.append(by_size.pop(side))
        return batches + [b for _, b in sorted(by_size.items())]

    def sample_weights(self, items: list[str]) -> torch.Tensor:
        """Per-frame sampling weights from `source_weights` items (folders not named weigh 1)."""
        weights = parse_source_weights(items, set(self.folders))
        out = torch.tensor([weights.get(f, 1.0) for f in self.folders], dtype=torch.double)
        if not float(out.sum()) > 0:
            raise ValueError(f"source weights {items} leave no training frame with a weight above 0")
        return out

    def __len__(self) -> int:
        return len(self.rows)

    def _shard(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self._maps:  # opened lazily so each DataLoader worker has its own maps
            self._maps[name] = (
                np.load(self.root / f"{name}_L.npy", mmap_mode="r"),
                np.load(self.root / f"{name}_ab.npy", mmap_mode="r"),
            )
        return self._maps[name]

    def raw(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Lab units: L (H, W) float32 in 0..100 and ab (2, H, W) float32."""
        shard, row = self.rows[i]
        L, ab = self._shard(shard)
        return L[row].astype(np.float32) / 2.55, ab[row].astype(np.float32)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        if self.seed is None:
            return self._sample(i)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed * 1_000_003 + i)
            return self._sample(i)

    def _sample(self, i: int) -> tuple[torch.Tensor, ...]:
        shard, row = self.rows[i]
        Lm, abm = self._shard(shard)
        L = torch.from_numpy(np.array(Lm[row], dtype=np.float32)) / 255.0  # uint8 = L * 2.55, so /255 = L/100
        ab = torch.from_numpy(np.array(abm[row], dtype=np.float32)) / AB_SCALE
        L = L[None]
        h, w = L.shape[-2:]
        top, left, ch, cw = 0, 0, h, w
        if self.crop and min(h, w) < self.crop:  # a frame smaller than the crop is enlarged to it
            L = torch.nn.functional.interpolate(L[None], size=(self.crop, self.crop), mode="bilinear")[0]
            ab = torch.nn.functional.interpolate(ab[None], size=(self.crop, self.crop), mode="bilinear")[0]
            h = w = self.crop
        if self.crop and self.crop < L.shape[-1]:
            ch = cw = self.crop
            top = int(torch.randint(0, h - ch + 1, ()))
            left = int(torch.randint(0, w - cw + 1, ()))
            L = L[:, top : top + ch, left : left + cw]
            ab = ab[:, top : top + ch, left : left + cw]
        # (top, bottom, left, right) of the sample in the frame's [-1, 1] coordinates
        box = torch.tensor(
            [2 * top / h - 1, 2 * (top + ch) / h - 1, 2 * left / w - 1, 2 * (left + cw) / w - 1]
        )
        if self.flip and bool(torch.rand(()) < 0.5):
            L, ab = L.flip(-1), ab.flip(-1)
            box = torch.stack([box[0], box[1], -box[3], -box[2]])  # the mirrored frame's crop
        if self.degrade_p and bool(torch.rand(()) < self.degrade_p):
            from training.augment import degrade

            L = degrade(L)
        out = [L.contiguous(), ab.contiguous()]
        if self.with_box:
            out.append(box)
        if self.hints is not None:
            out.append(sample_hints(ab, self.hints))
        return tuple(out)


@dataclass
class HintSampling:
    """How training draws colour hints from the true colour (Zhang et al. 2017): with probability `none_p` no
    hint at all (the model must still colorize alone); otherwise a geometric number of points (mean `mean`, at
    most `max_points`), placed where colour is saturated more often, each the mean true ab of a square of 1, 3
    or 5 px drawn over that square."""

    none_p: float = 0.25
    mean: float = 8.0
    max_points: int = 40
    saturation_bias: float = 4.0  # a pixel's chance grows by this x its chroma / 128


def sample_hints(ab: torch.Tensor, how: HintSampling) -> torch.Tensor:
    """ab (2, H, W) normalized -> hint channels (3, H, W): a, b, mask (as colorization.hints.render draws)."""
    _, h, w = ab.shape
    out = torch.zeros(HINT_CHANNELS, h, w)
    if bool(torch.rand(()) < how.none_p):
        return out
    # geometric number of points >= 1 with the given mean
    count = int(torch.distributions.Geometric(probs=torch.tensor(1.0 / how.mean)).sample()) + 1
    count = min(count, how.max_points, h * w)
    chance = 1.0 + how.saturation_bias * ab.norm(dim=0).flatten()
    for pos in torch.multinomial(chance, count, replacement=False).tolist():
        y, x = divmod(pos, w)
        r = int(torch.randint(0, 3, ()))  # squares of 1, 3 or 5 px
        ys, xs = slice(max(0, y - r), y + r + 1), slice(max(0, x - r), x + r + 1)
        colour = ab[:, ys, xs].mean((1, 2))
        out[0, ys, xs], out[1, ys, xs], out[2, ys, xs] = colour[0], colour[1], 1.0
    return out
