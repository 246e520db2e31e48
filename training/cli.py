"""`colorize-train build|fit|eval|eval-historical|export`: thin shells over the library functions."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def _build(args: argparse.Namespace) -> int:
    from training import missing_requirements
    from training.build_dataset import build

    if problem := missing_requirements():
        print(problem, file=sys.stderr)
        return 2

    build(
        args.sources,
        args.output,
        on_progress=print,
        every_s=args.every,
        scene_threshold=args.scene_threshold,
        dark_threshold=args.dark_threshold,
        person_filter=not args.no_person_filter,
        detector=args.detector,
        filter_images=args.filter_images,
        dedupe_distance=args.dedupe_distance,
        split_by=args.split_by,
        splits=tuple(args.splits),
        max_frames_per_film=args.max_frames_per_film,
    )
    return 0


def _fit(args: argparse.Namespace) -> int:
    from training import missing_requirements
    from training.config import load
    from training.train import fit

    if problem := missing_requirements():
        print(problem, file=sys.stderr)
        return 2

    cfg = load(args.config, args.set)
    path = fit(cfg, on_progress=lambda info: print(json.dumps(info), flush=True))
    print(f"best checkpoint: {path}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from training.evaluate import evaluate, format_table

    report = evaluate(
        args.checkpoint,
        args.data,
        split=args.split,
        report_path=args.report,
        lpips_weights=args.lpips,
        lpips_backbone=args.lpips_backbone,
        limit=args.limit,
    )
    print(format_table(report))
    return 0


def _eval_historical(args: argparse.Namespace) -> int:
    from training.historical_eval import evaluate_folder, format_hint_table, format_table, hint_table

    if args.hint_table:
        rows = hint_table(
            args.folder, model=args.model, counts=tuple(args.hint_table), placement=args.placement
        )
        if args.report:
            Path(args.report).write_text(json.dumps(rows, indent=1))
        print(format_hint_table(rows))
        return 0
    report = evaluate_folder(
        args.folder,
        model=args.model,
        out_json=args.report,
        pictures=args.pictures,
        hints=args.hints,
        placement=args.placement,
        record=args.record,
    )
    print(format_table(report))
    if report.get("hints"):
        h = report["hints"]
        print(
            f"hints: PSNR {h['psnr_gain']:+.2f} dB over none; leak {h['leak_mean']:.1%} of mid-lightness pixels "
            f"on average, {h['leak_max']:.1%} on the worst photo"
        )
    if report.get("recorded_in"):
        print(f'recorded in {report["recorded_in"]} (metrics "historical")')
    return 0 if report["criteria"]["all_met"] else 3


def _export(args: argparse.Namespace) -> int:
    from training.export import export

    info = export(
        args.checkpoint,
        args.output,
        dataset=args.dataset,
        name=args.name,
        version=args.version,
        make_default=args.default,
        retune=args.retune,
        min_colourfulness_ratio=args.min_colourfulness,
        candidates=args.temperatures,
        tune_frames=args.tune_frames,
        smoothings=args.ab_smoothing,
        gains=args.chroma_gains,
        card=args.card,
        degraded=args.tune_degraded,
    )
    print(json.dumps(info, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="colorize-train", description="Build frame datasets, train and evaluate models."
    )
    sub = p.add_subparsers(dest="cmd", required=True)

    b = sub.add_parser("build", help="films / image folders -> frame shards + manifest.json (incremental)")
    b.add_argument(
        "sources", nargs="+", help="colour films (any format PyAV decodes) and folders of colour images"
    )
    b.add_argument("-o", "--output", required=True, help="dataset folder (created or extended)")
    b.add_argument("--every", type=float, default=1.0, help="film sampling interval in seconds (default 1)")
    b.add_argument(
        "--scene-threshold", type=float, default=30.0, help="thumbnail difference marking a cut (0-255)"
    )
    b.add_argument(
        "--dark-threshold", type=float, default=40.0, help="drop frames darker than this mean gray level"
    )
    b.add_argument("--detector", help="person detector weights (.onnx YOLOv5 export or ultralytics .pt)")
    b.add_argument("--no-person-filter", action="store_true", help="build without the person filter")
    b.add_argument(
        "--filter-images", action="store_true", help="apply the person filter to image folders too"
    )
    b.add_argument("--dedupe-distance", type=int, default=4, help="phash Hamming distance of near-duplicates")
    b.add_argument("--split-by", choices=("film", "scene"), default="film", help="split groups for films")
    b.add_argument(
        "--splits", type=float, nargs=3, default=(0.81, 0.09, 0.10), metavar=("TRAIN", "VAL", "TEST")
    )
    b.add_argument("--max-frames-per-film", type=int, default=0)
    b.set_defaults(func=_build)

    f = sub.add_parser("fit", help="train a model from a TOML config")
    f.add_argument("config", help="TOML file (training/configs/*.toml)")
    f.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    f.set_defaults(func=_fit)

    e = sub.add_parser("eval", help="Table 3 metrics of a checkpoint vs the grayscale baseline")
    e.add_argument("checkpoint")
    e.add_argument("data", help="a dataset folder (uses --split) or a folder of colour images")
    e.add_argument("--split", default="test")
    e.add_argument("--report", help="JSON report path (default: next to the checkpoint)")
    e.add_argument("--lpips", help="LPIPS linear-layer weights (vgg.pth); needs --lpips-backbone too")
    e.add_argument("--lpips-backbone", help="torchvision VGG16 ImageNet weights (vgg16-397923af.pth)")
    e.add_argument("--limit", type=int, default=0, help="evaluate at most this many images (0 = all)")
    e.set_defaults(func=_eval)

    h = sub.add_parser(
        "eval-historical", help="the default model's acceptance criteria on true-colour photos"
    )
    h.add_argument("folder", nargs="?", default="../shared/data/historical_color")
    h.add_argument("--model", default="default", help="model name or checkpoint path")
    h.add_argument("--report", help="write the JSON report here")
    h.add_argument("--pictures", help="save small gray/model/truth strips into this folder")
    h.add_argument(
        "--hints",
        type=int,
        default=0,
        help="give each photo this many colour hints drawn from its true colour (seeded; default 0)",
    )
    h.add_argument(
        "--placement",
        choices=("random", "salient"),
        default="random",
        help="where the hints sit: random mid-lightness points, or on things whose colour stands out (salient)",
    )
    h.add_argument(
        "--hint-table",
        type=int,
        nargs="+",
        metavar="N",
        help="instead: the table of PSNR gain, Pearson and leak for these numbers of hints (e.g. 1 2 5 10)",
    )
    h.add_argument(
        "--record",
        action="store_true",
        help='store the figures in the model\'s checkpoint (metrics "historical"; the file is rewritten, '
        "its weights kept) so listings and the portal's promotion page show them",
    )
    h.set_defaults(func=_eval_historical)

    x = sub.add_parser(
        "export", help="tune the decoding on validation, store fp16, optionally make it the default"
    )
    x.add_argument("checkpoint")
    x.add_argument("-o", "--output", required=True, help="e.g. colorization/weights/unet-bins-v1.pt")
    x.add_argument("--dataset", help="dataset whose validation split tunes the decoding (default: the run's)")
    x.add_argument("--name", help="model name stored in the checkpoint")
    x.add_argument("--version", default="1")
    x.add_argument("--default", action="store_true", help="write the file name into weights/DEFAULT")
    x.add_argument("--retune", action="store_true", help="tune again even if the checkpoint was tuned")
    x.add_argument("--min-colourfulness", type=float, help="tuning: least share of the true colourfulness")
    x.add_argument("--temperatures", type=float, nargs="+", help="tuning: candidate temperatures")
    x.add_argument(
        "--ab-smoothing", type=float, nargs="+", help="tuning: candidate ab blurs (Gaussian sigma, px)"
    )
    x.add_argument(
        "--chroma-gains",
        type=float,
        nargs="+",
        help="tuning: candidate chroma gains (factors on the decoded ab; below 1 mutes, above 1 strengthens)",
    )
    x.add_argument("--tune-frames", type=int, default=150, help="tuning: validation frames used")
    x.add_argument(
        "--tune-degraded",
        action="store_true",
        help="tuning: the network sees the validation frames damaged as archive photographs are",
    )
    x.add_argument("--card", help="one plain sentence from the model card: what the model is good and bad at")
    x.set_defaults(func=_export)

    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        return args.func(args)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"colorize-train {args.cmd}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
