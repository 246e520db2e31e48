"""The default model's acceptance test on true-colour historical photographs (evaluation only, never tuning).

Each photo is made gray (its exact CIELAB L written as an 8-bit gray PNG), colorized through the product's
full-resolution inference path (`colorization.colorize_files`, preset "photo": network at 224 px, ab
upsampled and merged with the full-resolution L), and compared with the original at full resolution:

- PSNR (8-bit RGB) of the model vs two baselines: gray (ab = 0) and the best constant tint (every pixel gets
  the mean ab over all the photos' pixels; the constant that minimises the ab error over the set). A
  per-photo oracle tint (each photo's own mean ab, which needs the answer) is reported for information.
- colourfulness (Hasler & Suesstrunk) of the outputs vs the true photos': criterion >= 40%.
- mean over photos of the Pearson correlation of predicted vs true ab (a and b each on their own, pixels with L
  in 25..75, so gray and any tint score 0), for a and for b.
- green/blue recall: of the pixels the truth makes clearly green or blue (foliage, grass, sky, water), the share
  the output makes green or blue too (`colorization.metrics.green_blue_recall`), mean over the photos that have
  such pixels.

The bar (CRITERIA): PSNR at least 2 dB above the best constant tint, colourfulness at least 65% of the truth's,
Pearson at least 0.45 for a and for b, green/blue recall at least 40%.

With `hints=N`, each photo gets N colour hints as a person who knew the true colour might give them
(`colorization.hints.sample_from_truth`: seeded random points among pixels of lightness 25-75, each the mean
colour of the true 5x5 patch), written as the photo's `<stem>.hints.json` sidecar and read back through the
hints file format, as `colorize image` reads them. With `placement="salient"` the points sit on things whose
true colour stands out from the photo's median colour by more than 20 ab units (as staff place hints), at least
a tenth of the diagonal apart. With hints, each photo is also colorized without them: the report adds the PSNR
gain and the leak (`colorization.metrics.hint_leak`: the share of mid-lightness pixels whose ab error grows by
more than 10 when the hints are given); `hint_table` gives those figures for 0, 1, 2, 5 and 10 hints.

With `record=True` (`--record`), the headline figures (`checkpoint_figures`) are written into the model's
checkpoint under metrics["historical"], the rest of the file unchanged, so that listings and the portal's
promotion page show them beside the test split's.

    colorize-train eval-historical ../shared/data/historical_color --model default --pictures docs/model_card
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from colorization import metrics as M
from colorization import zoo
from colorization.color import rgb_to_lab
from training.build_dataset import IMAGE_SUFFIXES, read_image

CRITERIA = {"psnr_over_tint": 2.0, "colourfulness_ratio": 0.65, "ab_pearson": 0.45, "green_blue_recall": 0.40}
# hints (with 2 salient hints per photo): the leak at most this share of mid-lightness pixels, on average and on
# the worst photo
HINT_CRITERIA = {"leak_mean": 0.015, "leak_max": 0.05}
PLACEMENTS = ("random", "salient")
SALIENT_AB = 20.0  # Lab units from the photo's median colour: a thing whose colour stands out
CHECKPOINT_KEY = "historical"  # metrics[CHECKPOINT_KEY] in a checkpoint; listings read it as historical_*


def gray_from_lightness(L: np.ndarray) -> np.ndarray:
    """L (0..100) -> the 8-bit gray sRGB value whose L is closest (R = G = B)."""
    fy = (L + 16.0) / 116.0
    y = np.where(fy > 6.0 / 29.0, fy**3, (fy - 4.0 / 29.0) * 3 * (6.0 / 29.0) ** 2)
    srgb = np.where(y <= 0.0031308, y * 12.92, 1.055 * np.power(np.clip(y, 0, None), 1 / 2.4) - 0.055)
    return np.clip(np.round(srgb * 255.0), 0, 255).astype(np.uint8)


def _with_ab(gray: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """A gray uint8 image with a constant ab, through the product's merge (L kept, out-of-gamut chroma reduced)."""
    from colorization.stages.postprocess import merge_luma

    small = np.broadcast_to(np.asarray(ab, np.float32), (8, 8, 2)).copy()
    return merge_luma(np.repeat(gray[..., None], 3, axis=2), small, gray=True)


def _strip(images: list[np.ndarray], height: int = 150) -> Image.Image:
    tiles = [
        Image.fromarray(im).resize((max(1, round(im.shape[1] * height / im.shape[0])), height), Image.LANCZOS)
        for im in images
    ]
    out = Image.new("RGB", (sum(t.width for t in tiles) + 4 * (len(tiles) - 1), height), "white")
    x = 0
    for t in tiles:
        out.paste(t, (x, 0))
        x += t.width + 4
    return out


def _colorize(
    checkpoint: Path,
    grays: list[np.ndarray],
    given: list | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[np.ndarray]:
    """The gray photos through `colorize_files` (preset "photo"), with each photo's hints (read back from its
    sidecar file, as `colorize image` reads them) when `given` holds them: the RGB outputs, in order."""
    from colorization import hints as hint_files
    from colorization.api import colorize_files

    with tempfile.TemporaryDirectory(prefix="histeval-") as tmp:
        tmp = Path(tmp)
        (tmp / "out").mkdir()
        pairs, read_back = [], []
        for i, gray in enumerate(grays):
            name = f"{i:04d}.png"
            Image.fromarray(gray).save(tmp / name)
            pairs.append((tmp / name, tmp / "out" / name))
            if given is not None:
                sidecar = hint_files.sidecar(tmp / name)
                sidecar.write_text(hint_files.dumps(given[i]))
                read_back.append(hint_files.load(sidecar))
        done = [0]

        def count(_result) -> None:
            done[0] += 1
            if on_progress is not None:
                on_progress(done[0])

        results = colorize_files(
            pairs,
            preset="photo",
            model=str(checkpoint),
            format="png",
            hints=read_back if given is not None else None,
            on_result=count,
        )
        failed = [r for r in results if not r.ok]
        if failed:
            raise RuntimeError(f"colorization failed: {failed[0].error}")
        outs = []
        for r in results:
            with Image.open(r.dst) as im:
                outs.append(np.asarray(im.convert("RGB")))
    return outs


def _truth_hints(truths: list[np.ndarray], count: int, placement: str) -> list:
    """`count` hints per photo from its true colour, seeded by the photo's index: "random" points (the
    evaluation's first protocol) or "salient" ones, on things whose colour stands out from the photo's median
    colour by more than `SALIENT_AB` (as staff place them)."""
    from colorization import hints as hint_files

    if placement not in PLACEMENTS:
        raise ValueError(f"hint placement {placement!r}: one of {', '.join(PLACEMENTS)}")
    stand_out = SALIENT_AB if placement == "salient" else None
    return [
        hint_files.sample_from_truth(truth / 255.0, count, seed=i, stand_out=stand_out)
        for i, truth in enumerate(truths)
    ]


def _read_folder(folder: Path) -> tuple[list[Path], list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    files = (
        sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
    )
    if not files:
        raise ValueError(f"{folder}: no photographs to evaluate (expected a folder of colour images)")
    truths = [read_image(p) for p in files]
    labs = [rgb_to_lab(t.astype(np.float32) / 255.0) for t in truths]
    grays = [gray_from_lightness(lab[..., 0]) for lab in labs]
    return files, truths, labs, grays


def _lab(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_lab(rgb.astype(np.float32) / 255.0)


def evaluate_folder(
    folder: str | Path,
    model: str = "default",
    out_json: str | Path | None = None,
    pictures: str | Path | None = None,
    n_pictures: int = 4,
    hints: int = 0,
    placement: str = "random",
    record: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """The report (see the module's docstring); `on_progress(photos_done)` after each photo is colorized.
    With hints, each photo is also colorized without them, and the report adds the PSNR gain and the leak
    (`colorization.metrics.hint_leak`) against that."""
    folder = Path(folder)
    if record and hints:
        raise ValueError("the figures recorded in a checkpoint are those without hints: leave out --hints")
    checkpoint = zoo.resolve_model(model)  # before the long part: an unknown model fails at once
    files, truths, labs, grays = _read_folder(folder)
    given = _truth_hints(truths, hints, placement) if hints else None  # a bad placement fails before the work
    mean_ab = np.concatenate([lab[..., 1:].reshape(-1, 2) for lab in labs]).mean(0)
    outs = _colorize(checkpoint, grays, given, on_progress)
    plains = _colorize(checkpoint, grays) if hints else [None] * len(files)
    described = zoo.describe(checkpoint)
    model_info = f"{described.name} v{described.version}"

    rows = []
    for p, truth, lab, gray, out, plain in zip(files, truths, labs, grays, outs, plains, strict=True):
        gray_rgb = np.repeat(gray[..., None], 3, axis=2)
        tint = _with_ab(gray, mean_ab)
        oracle = _with_ab(gray, lab[..., 1:].reshape(-1, 2).mean(0))
        out_lab = _lab(out)
        tint_lab = _lab(tint)
        pearson_a, pearson_b = M.ab_pearson_channels(out_lab, lab)
        rows.append(
            {
                "photo": p.name,
                "psnr_model": M.psnr(out, truth),
                "psnr_gray": M.psnr(gray_rgb, truth),
                "psnr_tint": M.psnr(tint, truth),
                "psnr_oracle_tint": M.psnr(oracle, truth),
                "colourfulness_model": M.colourfulness(out),
                "colourfulness_true": M.colourfulness(truth),
                "colourfulness_tint": M.colourfulness(tint),
                "ab_pearson_model": M.ab_pearson(out_lab, lab),
                "ab_pearson_gray": M.ab_pearson(_lab(gray_rgb), lab),
                "ab_pearson_tint": M.ab_pearson(tint_lab, lab),
                "ab_pearson_a_model": pearson_a,
                "ab_pearson_b_model": pearson_b,
                "green_blue_recall_model": M.green_blue_recall(out_lab, lab),
                "green_blue_recall_tint": M.green_blue_recall(tint_lab, lab),
                "ssim_model": M.ssim(out, truth),
                "ssim_gray": M.ssim(gray_rgb, truth),
                **(
                    {
                        "hints_given": len(given[len(rows)]),
                        "psnr_without_hints": M.psnr(plain, truth),
                        "hint_leak": M.hint_leak(out_lab, _lab(plain), lab),
                    }
                    if hints
                    else {}
                ),
            }
        )
    mean = {k: _mean([r[k] for r in rows]) for k in rows[0] if k != "photo"}
    ratio = mean["colourfulness_model"] / max(mean["colourfulness_true"], 1e-9)
    criteria = {
        "psnr_beats_gray": mean["psnr_model"] > mean["psnr_gray"],
        "psnr_beats_tint": mean["psnr_model"] > mean["psnr_tint"],
        "psnr_over_tint": round(mean["psnr_model"] - mean["psnr_tint"], 2),
        "psnr_over_tint_ok": mean["psnr_model"] - mean["psnr_tint"] >= CRITERIA["psnr_over_tint"],
        "colourfulness_ratio": round(ratio, 4),
        "colourfulness_ok": ratio >= CRITERIA["colourfulness_ratio"],
        "ab_pearson_ok": min(mean["ab_pearson_a_model"], mean["ab_pearson_b_model"])
        >= CRITERIA["ab_pearson"],
        "green_blue_recall_ok": mean["green_blue_recall_model"] >= CRITERIA["green_blue_recall"],
    }
    criteria["all_met"] = all(
        v for k, v in criteria.items() if k.endswith("_ok") or k.startswith("psnr_beats")
    )
    report = {
        "folder": str(folder),
        "photos": len(rows),
        "model": model_info,
        "hints_per_photo": hints,
        **({"hint_placement": placement} if hints else {}),
        "mean_tint_ab": mean_ab.round(3).tolist(),
        "mean": mean,
        "criteria": criteria,
        "per_photo": rows,
    }
    if hints:
        leaks = [r["hint_leak"] for r in rows]
        report["hints"] = {
            "psnr_gain": round(mean["psnr_model"] - mean["psnr_without_hints"], 2),
            "leak_mean": round(float(np.mean(leaks)), 4),
            "leak_max": round(float(np.max(leaks)), 4),
            "leak_ok": float(np.mean(leaks)) <= HINT_CRITERIA["leak_mean"]
            and float(np.max(leaks)) <= HINT_CRITERIA["leak_max"],
        }

    if pictures:
        pictures = Path(pictures)
        pictures.mkdir(parents=True, exist_ok=True)
        picks = np.linspace(0, len(rows) - 1, n_pictures).round().astype(int) if n_pictures else []
        for i in picks:
            strip = _strip([np.repeat(grays[i][..., None], 3, 2), outs[i], truths[i]])
            name = pictures / f"historical_{files[i].stem}.jpg"
            strip.save(name, quality=82)
        report["pictures"] = [f"historical_{files[i].stem}.jpg" for i in picks]
    if out_json:
        Path(out_json).write_text(json.dumps(report, indent=1))
    if record:
        record_in_checkpoint(checkpoint, report)
        report["recorded_in"] = checkpoint.name
    return report


def hint_table(
    folder: str | Path,
    model: str = "default",
    counts: tuple[int, ...] = (1, 2, 5, 10),
    placement: str = "salient",
    on_progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """What hints buy and what they spill, a row per number of hints (0 first): mean PSNR and its gain over no
    hints, Pearson a / b, and the leak (mean and worst photo) against the same model without hints."""
    checkpoint = zoo.resolve_model(model)
    files, truths, labs, grays = _read_folder(Path(folder))
    plains = _colorize(checkpoint, grays, on_progress=on_progress)
    plain_labs = [_lab(x) for x in plains]
    plain_psnr = float(np.mean([M.psnr(p, t) for p, t in zip(plains, truths, strict=True)]))

    def row(count: int, outs: list[np.ndarray], out_labs: list[np.ndarray]) -> dict[str, Any]:
        channels = [M.ab_pearson_channels(o, lab) for o, lab in zip(out_labs, labs, strict=True)]
        leaks = [M.hint_leak(o, p, lab) for o, p, lab in zip(out_labs, plain_labs, labs, strict=True)]
        psnrs = [M.psnr(o, t) for o, t in zip(outs, truths, strict=True)]
        return {
            "hints": count,
            "psnr": round(float(np.mean(psnrs)), 2),
            "psnr_gain": round(float(np.mean(psnrs)) - plain_psnr, 2),
            "pearson_a": round(float(np.mean([c[0] for c in channels])), 3),
            "pearson_b": round(float(np.mean([c[1] for c in channels])), 3),
            "leak_mean": round(float(np.mean(leaks)), 4),
            "leak_max": round(float(np.max(leaks)), 4),
        }

    rows = [row(0, plains, plain_labs)]
    for count in counts:
        outs = _colorize(checkpoint, grays, _truth_hints(truths, count, placement), on_progress)
        rows.append(row(count, outs, [_lab(x) for x in outs]))
    return rows


def format_hint_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| hints | PSNR (dB) | gain | Pearson a / b | leak, mean | leak, worst photo |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['hints']} | {r['psnr']:.2f} | {r['psnr_gain']:+.2f} | {r['pearson_a']:.3f} / "
            f"{r['pearson_b']:.3f} | {r['leak_mean']:.1%} | {r['leak_max']:.1%} |"
        )
    return "\n".join(lines)


def _mean(values: list[float | None]) -> float:
    """The mean over the photos that have a value (green/blue recall has none for a photo without green or blue)."""
    kept = [v for v in values if v is not None]
    return round(float(np.mean(kept)), 4) if kept else 0.0


def checkpoint_figures(report: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint keeps of a report: the means of the model and both baselines, in the shape of an
    evaluation report (`model_metrics`, `grayscale_metrics`), so `zoo.headline_metrics` lists them as
    historical_psnr, historical_ssim, historical_colourfulness_ratio, historical_ab_pearson and so on. The
    folder is kept by name only: a checkpoint holds no paths of the machine that measured it."""
    m = report["mean"]
    return {
        "split": CHECKPOINT_KEY,
        "folder": Path(report["folder"]).name,
        "photos": report["photos"],
        "model": report["model"],
        "preset": "photo",
        "model_metrics": {
            "psnr": m["psnr_model"],
            "ssim": m["ssim_model"],
            "colourfulness": m["colourfulness_model"],
            "colourfulness_ratio": report["criteria"]["colourfulness_ratio"],
            "ab_pearson": m["ab_pearson_model"],
            "ab_pearson_a": m["ab_pearson_a_model"],
            "ab_pearson_b": m["ab_pearson_b_model"],
            "green_blue_recall": m["green_blue_recall_model"],
        },
        "grayscale_metrics": {
            "psnr": m["psnr_gray"],
            "ssim": m["ssim_gray"],
            "ab_pearson": m["ab_pearson_gray"],
        },
        "tint_metrics": {
            "psnr": m["psnr_tint"],
            "colourfulness": m["colourfulness_tint"],
            "ab_pearson": m["ab_pearson_tint"],
        },
        "true_colourfulness": m["colourfulness_true"],
        "criteria": dict(report["criteria"]),
    }


def record_in_checkpoint(checkpoint: str | Path, report: dict[str, Any]) -> dict[str, Any]:
    """Write the report's figures into the checkpoint's metrics["historical"] (replacing earlier ones); the
    file is rewritten atomically and everything else in it (weights, configuration) is kept as it was."""
    from training.evaluate import write_metrics_into_checkpoint

    if report.get("hints_per_photo"):
        raise ValueError("the figures recorded in a checkpoint are those without hints")
    figures = checkpoint_figures(report)
    write_metrics_into_checkpoint(Path(checkpoint), CHECKPOINT_KEY, figures)
    return figures


def format_table(report: dict) -> str:
    m, c = report["mean"], report["criteria"]
    yes = {True: "yes", False: "NO"}
    return "\n".join(
        [
            f"{report['folder']}: {report['photos']} photos, model {report['model']} (full-resolution inference path"
            + (
                f", {report['hints_per_photo']} hints per photo from the truth)"
                if report.get("hints_per_photo")
                else ")"
            ),
            "| | model | gray (ab = 0) | constant tint (mean ab) | per-photo oracle tint | true photos |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| PSNR (dB) | {m['psnr_model']:.2f} | {m['psnr_gray']:.2f} | {m['psnr_tint']:.2f} | {m['psnr_oracle_tint']:.2f} | |",
            f"| SSIM | {m['ssim_model']:.4f} | {m['ssim_gray']:.4f} | | | |",
            f"| colourfulness | {m['colourfulness_model']:.2f} | 0 | {m['colourfulness_tint']:.2f} | | "
            f"{m['colourfulness_true']:.2f} |",
            f"| ab Pearson (L 25..75) | {m['ab_pearson_model']:.3f} | {m['ab_pearson_gray']:.3f} | "
            f"{m['ab_pearson_tint']:.3f} | | 1 |",
            f"| Pearson a / b | {m['ab_pearson_a_model']:.3f} / {m['ab_pearson_b_model']:.3f} | 0 / 0 | 0 / 0 | | 1 |",
            f"| green/blue recall | {m['green_blue_recall_model']:.0%} | 0% | {m['green_blue_recall_tint']:.0%} | | 100% |",
            "",
            f"criteria: PSNR {c['psnr_over_tint']:+.2f} dB over tint (>= {CRITERIA['psnr_over_tint']}): "
            f"{yes[c['psnr_over_tint_ok']]}; colourfulness {c['colourfulness_ratio']:.0%} of true "
            f"(>= {CRITERIA['colourfulness_ratio']:.0%}): {yes[c['colourfulness_ok']]}; Pearson a and b "
            f">= {CRITERIA['ab_pearson']}: {yes[c['ab_pearson_ok']]}; green/blue recall "
            f">= {CRITERIA['green_blue_recall']:.0%}: {yes[c['green_blue_recall_ok']]}; all met: {yes[c['all_met']]}",
        ]
    )
