"""evaluate(checkpoint, data) -> the thesis's Table 3 (MAE, PSNR, SSIM on 8-bit RGB) and more, for the model
and a grayscale baseline (ab = 0) side by side: LPIPS where its weights are available, colourfulness
(Hasler & Suesstrunk) and accuracy within epsilon = 2%.

DATA is a built dataset folder (one split, frames as stored: 224x224) or a folder of colour images (centre
crop + resize to the network size, made gray on the fly, exactly as the dataset build does). The report is
written as JSON and into the checkpoint's "metrics" (keyed by data + split).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colorization import checkpoint as ckpt_mod
from colorization import metrics as M
from colorization.color import AB_SCALE, lab_to_rgb, rgb_to_lab
from colorization.media.files import atomic_path
from training.build_dataset import IMAGE_SUFFIXES, centre_square, load_manifest, read_image

METRICS = ("mae", "psnr", "ssim", "lpips", "colourfulness", "acc_eps", "ab_pearson", "green_blue_recall")
DEFAULT_LPIPS = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "weights" / "lpips_v0.1" / "vgg.pth"
)


def iter_samples(data: str | Path, split: str, size: int, limit: int = 0):
    """Yield (name, source folder, L (H, W) 0..100, true ab (H, W, 2), true RGB uint8); the source folder is the
    one a dataset frame was built from ("bsds500", "utkface"), or the image folder's own name."""
    data = Path(data)
    if load_manifest(data) is not None:
        from training.data import FrameDataset

        ds = FrameDataset(data, split)
        if len(ds) == 0:
            raise ValueError(f"{data}: split {split!r} is empty")
        n = len(ds) if not limit else min(limit, len(ds))
        for i in range(n):
            L, ab = ds.raw(i)
            lab = np.concatenate([L[..., None], ab.transpose(1, 2, 0)], -1)
            yield (
                f"{split}/{i}",
                ds.folders[i],
                L,
                lab[..., 1:],
                np.round(lab_to_rgb(lab) * 255).astype(np.uint8),
            )
    elif data.is_dir():
        files = sorted(p for p in data.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"{data}: neither a dataset (manifest.json) nor a folder of images")
        for p in files[: limit or None]:
            rgb = centre_square(read_image(p), size)
            lab = rgb_to_lab(rgb.astype(np.float32) / 255.0)
            yield p.name, data.name, lab[..., 0], lab[..., 1:], rgb
    else:
        raise ValueError(f"{data}: no such dataset or folder")


def image_metrics(
    pred_lab: np.ndarray, true_lab: np.ndarray, true_rgb: np.ndarray, lpips=None
) -> dict[str, float]:
    pred_rgb = np.round(lab_to_rgb(pred_lab) * 255).astype(np.uint8)
    out = {
        "mae": M.mae(pred_rgb, true_rgb),
        "psnr": M.psnr(pred_rgb, true_rgb),
        "ssim": M.ssim(pred_rgb, true_rgb),
        "colourfulness": M.colourfulness(pred_rgb),
        "acc_eps": M.accuracy_within_eps(pred_lab[..., 1:], true_lab[..., 1:], 0.02),
        "ab_pearson": M.ab_pearson(pred_lab, true_lab),
        "green_blue_recall": M.green_blue_recall(pred_lab, true_lab),  # None: no green or blue in the truth
    }
    if lpips is not None:
        out["lpips"] = lpips.distance(pred_rgb, true_rgb)
    return out


def _mean(rows: list[dict]) -> dict[str, float]:
    """Each metric's mean over the images that have it (green/blue recall: those with green or blue)."""
    out = {}
    for k in METRICS:
        values = [r[k] for r in rows if r.get(k) is not None]
        if rows and k in rows[0]:
            out[k] = round(float(np.mean(values)), 4) if values else 0.0
    return out


def _by_source(folders: list[str], rows_model: list[dict], rows_gray: list[dict]) -> dict[str, dict]:
    """The model's and the gray baseline's means per source folder: where the model helps (scenes? faces?)."""
    out = {}
    for folder in sorted(set(folders)):
        picked = [i for i, f in enumerate(folders) if f == folder]
        out[folder] = {
            "images": len(picked),
            "model_metrics": _mean([rows_model[i] for i in picked]),
            "grayscale_metrics": _mean([rows_gray[i] for i in picked]),
        }
    return out


def write_metrics_into_checkpoint(path: Path, key: str, report: dict) -> None:
    """Store `report` as the checkpoint's metrics[key]; the file is replaced atomically, the rest kept."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    ckpt.setdefault("metrics", {})[key] = json.loads(json.dumps(report))  # plain types only
    with atomic_path(path) as tmp:  # keeps the file's permissions
        torch.save(ckpt, tmp)


@torch.no_grad()
def evaluate(
    checkpoint: str | Path,
    data: str | Path,
    split: str = "test",
    report_path: str | Path | None = None,
    lpips_weights: str | Path | None = None,
    lpips_backbone: str | Path | None = None,
    limit: int = 0,
    write_checkpoint: bool = True,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """`on_progress(images_done)` is called after every image (a worker's heartbeat)."""
    from training.lpips import LpipsUnavailable, load

    checkpoint = Path(checkpoint)
    model, ckpt = ckpt_mod.load_model(checkpoint)
    size = int(ckpt.get("data_cfg", {}).get("size", 224))
    try:
        lpips = load(lpips_weights or DEFAULT_LPIPS, lpips_backbone)
        lpips_note = "LPIPS (vgg) computed"
    except LpipsUnavailable as exc:
        lpips, lpips_note = None, str(exc)
    rows_model, rows_gray, true_colour, folders = [], [], [], []
    for _, folder, L, ab, rgb in iter_samples(data, split, size, limit):
        folders.append(folder)
        true_lab = np.concatenate([L[..., None], ab], -1)
        x = torch.from_numpy(L / 100.0).float()[None, None]
        pred = model(x)[0].float().numpy().transpose(1, 2, 0) * AB_SCALE
        rows_model.append(image_metrics(np.concatenate([L[..., None], pred], -1), true_lab, rgb, lpips))
        rows_gray.append(
            image_metrics(np.concatenate([L[..., None], np.zeros_like(ab)], -1), true_lab, rgb, lpips)
        )
        true_colour.append(M.colourfulness(rgb))
        if on_progress:
            on_progress(len(rows_model))
    report = {
        "checkpoint": checkpoint.name,
        "model": ckpt.get("name"),
        "data": str(data),
        "split": split if load_manifest(Path(data)) is not None else None,
        "images": len(rows_model),
        "size": size,
        "model_metrics": _mean(rows_model),
        "grayscale_metrics": _mean(rows_gray),
        "true_colourfulness": round(float(np.mean(true_colour)), 4),
        "by_source": _by_source(folders, rows_model, rows_gray),
        "lpips": lpips_note,
        "notes": "MAE/PSNR/SSIM/colourfulness on 8-bit RGB; acc_eps: share of pixels with |da|,|db| <= 2% of 128; "
        "ab_pearson over pixels with L in 25..75",
    }
    key = f"{Path(data).name}:{report['split'] or 'images'}"
    # the folder by name only: a checkpoint holds no paths of the machine that measured it
    if write_checkpoint:
        write_metrics_into_checkpoint(checkpoint, key, {**report, "data": Path(data).name})
    out = Path(report_path) if report_path else checkpoint.with_suffix(f".eval-{Path(data).name}.json")
    out.write_text(json.dumps(report, indent=1))
    report["report_path"] = str(out)
    return report


def format_table(report: dict) -> str:
    head = (
        f"{report['data']} ({report['split'] or 'images'}, {report['images']} images at {report['size']} px)"
    )
    lines = [head, f"| metric | {report['model']} | grayscale (ab = 0) |", "| --- | --- | --- |"]
    for k in METRICS:
        if k in report["model_metrics"]:
            lines.append(f"| {k} | {report['model_metrics'][k]:.4f} | {report['grayscale_metrics'][k]:.4f} |")
    lines.append(f"true colourfulness: {report['true_colourfulness']:.2f}; {report['lpips']}")
    by_source = report.get("by_source") or {}
    if len(by_source) > 1:
        lines += [
            "",
            "by source folder:",
            "| folder | images | PSNR (gray) | ab_pearson | colourfulness |",
            "| --- | --- | --- | --- | --- |",
        ]
        for folder, r in sorted(by_source.items(), key=lambda kv: -kv[1]["images"]):
            m, g = r["model_metrics"], r["grayscale_metrics"]
            lines.append(
                f"| {folder} | {r['images']} | {m['psnr']:.2f} ({g['psnr']:.2f}) | {m['ab_pearson']:.3f} "
                f"| {m['colourfulness']:.1f} |"
            )
    return "\n".join(lines)
