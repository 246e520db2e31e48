"""Ship a trained checkpoint: tune its decoding (temperature, ab smoothing, chroma gain, mirror averaging) on
the VALIDATION split (head = "bins"), store fp16 weights (half the size), and optionally make it the default model
(colorization/weights/DEFAULT).

    colorize-train export runs/default-bins/best.pt -o colorization/weights/unet-bins-v1.pt --default
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from colorization import checkpoint as ckpt_mod
from colorization.media.files import atomic_write

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "colorization" / "weights"


def export(
    src: str | Path,
    dst: str | Path,
    dataset: str | Path | None = None,
    name: str | None = None,
    version: str = "1",
    make_default: bool = False,
    retune: bool = False,
    min_colourfulness_ratio: float | None = None,
    tune_frames: int = 150,
    candidates: list[float] | None = None,
    smoothings: list[float] | None = None,
    gains: list[float] | None = None,
    card: str | None = None,
    degraded: bool = False,
) -> dict[str, Any]:
    from training.config import TrainConfig
    from training.data import FrameDataset
    from training.decoding import tune_decoding

    model, ckpt = ckpt_mod.load_model(src)
    summary = dict(ckpt.get("train_summary") or {})
    cfg = ckpt.get("train_config") or {}
    tuned = "decoding_tuning" in summary or "temperature_tuning" in summary  # (the older name)
    if model.config.head == "bins" and (retune or not tuned):
        ds = FrameDataset(dataset or cfg.get("dataset", "data/frames"), "val")
        candidates = candidates or cfg.get("temperature_candidates") or TrainConfig().temperature_candidates
        if min_colourfulness_ratio is None:
            min_colourfulness_ratio = cfg.get("min_colourfulness_ratio", 0.5)
        defaults = TrainConfig()
        choice = tune_decoding(
            model,
            ds,
            candidates,
            min_colourfulness_ratio,
            tune_frames,
            gains=gains or cfg.get("chroma_gain_candidates") or defaults.chroma_gain_candidates,
            mirror=cfg.get("tune_flip_average", defaults.tune_flip_average),
            smoothings=smoothings or cfg.get("ab_smoothing_candidates") or defaults.ab_smoothing_candidates,
            degraded=degraded,
        )
        summary.pop("temperature_tuning", None)
        summary["decoding_tuning"] = choice
    dst = Path(dst)
    extra = {k: ckpt[k] for k in ("metrics", "card") if k in ckpt}
    if card:  # the card's plain sentence: what the model is good and bad at (colorization/model_cards.py)
        extra["card"] = " ".join(card.split())
    ckpt_mod.save(
        dst,
        model,
        name=name or ckpt.get("name"),
        version=version,
        data_cfg=ckpt.get("data_cfg"),
        half=True,
        step=ckpt.get("step"),
        train_config=cfg,
        train_summary=summary,
        **extra,
    )
    dst.chmod(0o644)  # package data: readable by every user (mkstemp creates 0600)
    if make_default:
        default = atomic_write(dst.parent / "DEFAULT", (dst.name + "\n").encode())
        default.chmod(0o644)  # package data, as the checkpoint
    return {
        "path": str(dst),
        "bytes": dst.stat().st_size,
        "temperature": model.config.temperature,
        "chroma_gain": model.config.chroma_gain,
        "flip_average": model.config.flip_average,
        "ab_smoothing": model.config.ab_smoothing,
        "tuning": summary.get("decoding_tuning") or summary.get("temperature_tuning"),
    }
