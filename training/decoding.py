"""How a bins model turns logits into colour, chosen on the validation split when it is shipped (by fit()'s bins
loss at the end of a run, and by `colorize-train export`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from colorization.color import AB_SCALE
from colorization.models import UNet, scale_chroma, smooth_ab
from training.augment import degrade
from training.data import FrameDataset


@torch.no_grad()
def tune_decoding(
    model: UNet,
    ds: FrameDataset,
    temperatures: list[float],
    min_ratio: float,
    max_frames: int = 300,
    gains: list[float] = (1.0,),
    mirror: bool = False,
    psnr_tolerance_db: float = 0.1,
    smoothings: list[float] = (0.0,),
    degraded: bool = False,
) -> dict[str, Any]:
    """How a bins model turns logits into colour, chosen on VALIDATION frames: annealed-mean temperature, ab
    smoothing, chroma gain and (with `mirror`) mirror averaging, every combination. Among the combinations whose
    colourfulness reaches `min_ratio` of the true frames' (the most colourful one when none does), those within
    `psnr_tolerance_db` of the best mean PSNR are as accurate as each other; of these, the one whose colour varies
    most where the truth does (within-image ab Pearson) wins. Sets the choice on `model.config`.

    With `degraded` the network sees each frame's lightness damaged as archive photographs are (faded, soft,
    grainy, scratched: training.augment.degrade, the same damage per frame on every run) and its colour is scored
    against the clean truth: a model is less sure of itself on damaged input and its annealed mean greyer, so a
    decoding tuned on clean frames comes out paler on archive photographs than on validation."""
    from colorization.color import lab_to_rgb
    from colorization.metrics import ab_pearson, colourfulness, psnr

    model.eval()
    device = next(model.parameters()).device
    idx = sorted(
        {int(i) for i in np.linspace(0, len(ds) - 1, min(max_frames, len(ds))).round()}
    )  # evenly spread
    combos = [
        (f, t, s, g)
        for f in ((False, True) if mirror else (False,))
        for t in temperatures
        for s in smoothings
        for g in gains
    ]
    stats = {c: {"psnr": 0.0, "colour": 0.0, "pearson": 0.0} for c in combos}
    true_colour = gray_psnr = tint_psnr = 0.0
    mean_ab = np.mean([ds.raw(i)[1].reshape(2, -1).mean(1) for i in idx], axis=0)
    for i in idx:
        L, ab = ds.raw(i)
        true_lab = np.concatenate([L[..., None], ab.transpose(1, 2, 0)], -1).astype(np.float32)
        true_rgb = lab_to_rgb(true_lab)
        true_colour += colourfulness(true_rgb)
        gray_psnr += psnr(lab_to_rgb(np.stack([L, 0 * L, 0 * L], -1)), true_rgb)
        tint_psnr += psnr(lab_to_rgb(np.stack([L, 0 * L + mean_ab[0], 0 * L + mean_ab[1]], -1)), true_rgb)
        x = torch.from_numpy(L / 100.0)[None, None].float()
        if degraded:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(i)
                x = degrade(x[0])[None]
        x = x.to(device)
        stride = model.config.head_stride  # as inference decodes (mirror averaging runs at stride 1)
        logits = {False: model.logits(x, stride=stride)}
        if mirror:
            logits[True] = model.mirror_averaged_logits(x, logits=logits[False] if stride == 1 else None)
        # the softmax is the slow part: once per (mirror, temperature); then a blur per sigma; a gain only scales
        annealed, smoothed = {}, {}
        for f, t, s, g in combos:
            if (f, t) not in annealed:
                annealed[f, t] = model.to_input_size(
                    model.decode(logits[f], temperature=t, chroma_gain=1.0, smoothing=0.0), x.shape[-2:]
                )
            if (f, t, s) not in smoothed:
                smoothed[f, t, s] = smooth_ab(annealed[f, t], s)
            pred = scale_chroma(smoothed[f, t, s], g)[0].float().cpu().numpy()
            pred_lab = np.concatenate([L[..., None], pred.transpose(1, 2, 0) * AB_SCALE], -1)
            rgb = lab_to_rgb(pred_lab)
            stats[(f, t, s, g)]["psnr"] += psnr(rgb, true_rgb)
            stats[(f, t, s, g)]["pearson"] += ab_pearson(pred_lab, true_lab)
            stats[(f, t, s, g)]["colour"] += colourfulness(rgb)
    n = len(idx)
    table = [
        {
            "flip_average": f,
            "temperature": t,
            "ab_smoothing": s,
            "chroma_gain": g,
            "psnr": round(m["psnr"] / n, 3),
            "colourfulness_ratio": round(m["colour"] / true_colour, 3),
            "ab_pearson": round(m["pearson"] / n, 3),
        }
        for (f, t, s, g), m in stats.items()
    ]
    ok = [r for r in table if r["colourfulness_ratio"] >= min_ratio]
    if ok:
        top = max(r["psnr"] for r in ok)
        best = max(
            (r for r in ok if r["psnr"] >= top - psnr_tolerance_db),
            key=lambda r: (r["ab_pearson"], r["psnr"]),
        )
    else:
        best = max(table, key=lambda r: r["colourfulness_ratio"])
    model.config.temperature = best["temperature"]
    model.config.chroma_gain = best["chroma_gain"]
    model.config.flip_average = best["flip_average"]
    model.config.ab_smoothing = best["ab_smoothing"]
    return {
        "temperature": best["temperature"],
        "chroma_gain": best["chroma_gain"],
        "flip_average": best["flip_average"],
        "ab_smoothing": best["ab_smoothing"],
        "min_colourfulness_ratio": min_ratio,
        "psnr_tolerance_db": psnr_tolerance_db,
        "frames": n,
        "inputs": "degraded" if degraded else "clean",
        "table": table,
        "gray_psnr": round(gray_psnr / n, 3),
        "tint_psnr": round(tint_psnr / n, 3),
    }
