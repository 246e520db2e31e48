"""What a stored model figure means, in words: the one table every staff page uses to name a figure, give its unit
and say which way is better (the promotion judges figures by it).

A figure's key is a set and a measure, as training runs and checkpoint reports store them (`colorization.zoo.
headline_metrics`): "historical_psnr" is PSNR on the historical photographs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HIGHER, LOWER, NOT_JUDGED = 1, -1, 0


@dataclass(frozen=True)
class Measure:
    name: str
    unit: str = ""  # "" for a plain number
    better: int = NOT_JUDGED
    why_not_judged: str = ""


# the sets a key can start with, and what they are
SETS = {
    "historical": "historical photographs",
    "test": "held-out frames",
    "val": "validation frames",
    "train": "training frames",
}

MEASURES = {
    "psnr": Measure("PSNR", "dB", HIGHER),
    "ssim": Measure("SSIM, structure kept", "0 to 1", HIGHER),
    "ab_pearson": Measure("Colour correlation", "-1 to 1", HIGHER),
    "pearson": Measure("Colour correlation", "-1 to 1", HIGHER),
    "hint_pearson": Measure("Colour correlation with hints", "-1 to 1", HIGHER),
    "acc_eps": Measure("Pixels within 2% of the true colour", "share, 0 to 1", HIGHER),
    "green_blue_recall": Measure("Green and blue found", "share, 0 to 1", HIGHER),
    "mae": Measure("Colour error (MAE)", better=LOWER),
    "loss": Measure("Loss", better=LOWER),
    "lpips": Measure("Perceptual distance (LPIPS)", better=LOWER),
    "colourfulness": Measure("Colourfulness", why_not_judged="more colour is not truer colour"),
    "colourfulness_ratio": Measure(
        "Colourfulness against the true colours", "1 = as colourful", why_not_judged="nearer 1 is better"
    ),
    "gray_psnr": Measure("PSNR of the grey original", "dB", why_not_judged="a baseline"),
    "tint_psnr": Measure("PSNR of one constant tint", "dB", why_not_judged="a baseline"),
}


@dataclass(frozen=True)
class FigureName:
    key: str
    label: str  # "PSNR on historical photographs (dB)"
    better: int  # HIGHER, LOWER or NOT_JUDGED
    why_not_judged: str = ""

    @property
    def better_text(self) -> str:
        if self.better == HIGHER:
            return "higher"
        if self.better == LOWER:
            return "lower"
        return f"not judged: {self.why_not_judged}" if self.why_not_judged else "not judged"


def describe(key: str) -> FigureName:
    """`key` in words; a key outside the table keeps its name (with spaces) and is not judged."""
    prefix, _, rest = key.partition("_")
    measure = MEASURES.get(rest) if prefix in SETS else None
    if measure is None:
        return FigureName(key, key.replace("_", " "), NOT_JUDGED)
    unit = f" ({measure.unit})" if measure.unit else ""
    return FigureName(key, f"{measure.name} on {SETS[prefix]}{unit}", measure.better, measure.why_not_judged)


def numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """The plain numbers of a stored metrics dict (not the nested sets and baseline records)."""
    return {k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def ordered(keys: set[str], order: tuple[str, ...] = ()) -> list[str]:
    """`keys`, those in `order` first (in that order), then the rest by name: how every page lists figures."""
    first = [k for k in order if k in keys]
    return first + sorted(keys - set(first))


def named(metrics: dict[str, Any], order: tuple[str, ...] = ()) -> list[tuple[FigureName, float]]:
    """The numbers of `metrics` with their names, in `ordered` order."""
    values = numbers(metrics)
    return [(describe(k), values[k]) for k in ordered(set(values), order)]
