"""`colorize`: a thin command line over the library (argparse subcommands).

    colorize image IN... -o OUTDIR [--recursive] [--model NAME|PATH] [--format jpeg|png|tiff|webp|same]
    colorize compare IN -o SHEET.jpg            # the original beside every installed model's result
    colorize models                             # installed models, their metrics, the default marked
    colorize stages                             # registered pipeline stages per kind

Each subcommand is an `add_<name>(subparsers)` function that sets `func`; add one to SUBCOMMANDS to extend.
Exit status: 0 when everything asked for was done, 1 when some file failed, 2 for usage or model errors.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from pathlib import Path

from colorization.cli_common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_model_options, err
from colorization.hints import HintError, Hints


# ---------------------------------------------------------------- inputs
def expand_inputs(inputs: list[str], recursive: bool) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Files, folders and globs -> [(file, folder it was found under, for mirroring)], plus one-line errors."""
    from colorization.media.policy import IMAGE_SUFFIXES

    found: list[tuple[Path, Path]] = []
    errors: list[str] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_file():
            found.append((path, path.parent))
        elif path.is_dir():
            pattern = "**/*" if recursive else "*"
            files = sorted(
                p
                for p in path.glob(pattern)
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
            )
            if not files:
                errors.append(
                    f"{path}: no images in this folder"
                    + ("" if recursive else " (use --recursive for subfolders)")
                )
            found.extend((p, path) for p in files)
        elif glob.has_magic(item):
            matches = sorted(Path(m) for m in glob.glob(os.path.expanduser(item), recursive=recursive))
            files = [m for m in matches if m.is_file()]
            if not files:
                errors.append(f"{item}: no file matches this pattern")
            found.extend((m, m.parent) for m in files)
        else:
            errors.append(f"{path}: no such file or folder")
    unique: dict[Path, tuple[Path, Path]] = {}
    for src, base in found:
        unique.setdefault(src.resolve(), (src, base))
    return list(unique.values()), errors


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def plan_outputs(sources: list[tuple[Path, Path]], out_dir: Path, fmt: str) -> list[tuple[Path, Path]]:
    """(src, base) -> (src, dst): OUTDIR/<subfolder under base>/<stem>-colorized.<ext>, clashes made unique."""
    from colorization.media import output_path, source_format

    pairs: list[tuple[Path, Path]] = []
    taken: set[Path] = set()
    for src, base in sources:
        try:
            rel = src.parent.resolve().relative_to(base.resolve())
        except ValueError:
            rel = Path()
        folder = out_dir / rel
        dst = output_path(src, folder, fmt, source_format(src) if fmt == "same" else None)
        if dst in taken:  # photo.jpg and photo.png in one folder: keep both
            dst = dst.with_name(f"{src.name.replace('.', '_')}-colorized{dst.suffix}")
        taken.add(dst)
        pairs.append((src, dst))
    return pairs


# ---------------------------------------------------------------- image
def cmd_image(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from colorization import build_pipeline, colorize_files, presets
    from colorization.checkpoint import CheckpointError

    sources, errors = expand_inputs(args.inputs, args.recursive)
    for message in errors:
        err(message)
    out_dir = Path(args.output)
    # results of an earlier run inside the input folder are not inputs (colorize photos/ -o photos/colour -r)
    sources = [
        (src, base)
        for src, base in sources
        if not (out_dir.exists() and _inside(src, out_dir))
        or any(Path(item).resolve() == src.resolve() for item in args.inputs)
    ]
    pairs = plan_outputs(sources, out_dir, args.format)
    if args.hints and len(pairs) != 1:
        err("error: --hints applies to one photo; for several, put <stem>.hints.json beside each")
        return EXIT_USAGE
    todo, todo_hints, skipped = [], [], 0
    for src, dst in pairs:
        if dst.exists() and not args.overwrite:
            print(f"skip {src}: {dst} exists (use --overwrite to replace it)", file=sys.stderr)
            skipped += 1
            continue
        try:
            given = hints_for(src, args.hints)
        except HintError as exc:
            err(f"error: {exc}; {src} was not colorized")
            if args.hints:
                return EXIT_USAGE
            errors.append(str(exc))
            continue
        todo.append((src, dst))
        todo_hints.append(given)
    if not todo:
        print(f"nothing to do: {skipped} skipped, {len(errors)} failed", file=sys.stderr)
        return EXIT_FAILED if errors else EXIT_OK
    try:
        spec = presets.get(
            args.preset,
            model=args.model,
            models_dir=args.models_dir,
            device=args.device,
            engine=args.engine,
            format=None if args.format == "same" else args.format,
            quality=args.quality,
            batch_size=args.batch_size,
            saturation=args.saturation,
            strength=args.strength,
            max_side=args.max_side,
        )
        pipeline = build_pipeline(spec)
    except (CheckpointError, KeyError, TypeError, ValueError) as exc:
        err(f"error: {str(exc).strip(chr(34) + chr(39))}")
        return EXIT_USAGE
    if args.format == "same":
        pipeline.encoder.format = None  # each planned dst already carries the source's format as its suffix
    ctx = pipeline.context()
    if not args.quiet:
        version = f" (version {ctx['model_version']})" if ctx.get("model_version") else ""
        print(
            f"model: {ctx.get('model')}{version}, {ctx.get('model_file')}, on {ctx.get('device')}"
            + (f" ({ctx['engine']})" if ctx.get("engine") else ""),
            file=sys.stderr,
        )
    failed = len(errors)
    done = 0
    with tqdm(total=len(todo), unit="img", disable=args.quiet, file=sys.stderr, dynamic_ncols=True) as bar:

        def on_result(result) -> None:
            nonlocal failed, done
            bar.update(1)
            if not result.ok:
                failed += 1
                bar.write(f"error: {result.error}", file=sys.stderr)
                return
            done += 1
            if args.quiet:
                return
            source = result.info.get("source", {})
            if source.get("desaturated"):
                bar.write(
                    f"note: {result.src} is in colour: it was desaturated first (only its lightness is kept)",
                    file=sys.stderr,
                )
            if source.get("bits") == 16 and result.info.get("bits") == 8:
                bar.write(
                    f"note: {result.src} is 16-bit; {result.info.get('format')} keeps 8 bits "
                    "(use --format png, tiff or same to keep 16)",
                    file=sys.stderr,
                )
            if source.get("pages", 1) > 1:
                bar.write(
                    f"note: {result.src} has {source['pages']} pages: only the first was colorized",
                    file=sys.stderr,
                )
            if args.verbose:
                bar.write(f"{result.src} -> {result.dst} ({result.seconds:.1f} s)", file=sys.stderr)

        if any(todo_hints) and not pipeline.takes_hints() and not args.quiet:
            bar.write(
                f"note: {ctx.get('model')} takes no colour hints; the hints given are ignored",
                file=sys.stderr,
            )
        colorize_files(todo, pipeline=pipeline, on_result=on_result, hints=todo_hints)
    print(f"{done} colorized, {skipped} skipped, {failed} failed -> {out_dir}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def hints_for(src: Path, given: str | None) -> Hints | None:
    """The colour hints for `src`: the --hints file, else its `<stem>.hints.json` sidecar when present."""
    from colorization import hints

    if given:
        return hints.load(given)
    sidecar = hints.sidecar(src)
    return hints.load(sidecar) if sidecar.is_file() else None


def add_image(sub) -> None:
    p = sub.add_parser(
        "image",
        help="colorize photos (files, folders, globs)",
        description="Colorize black-and-white photos. Colour inputs are desaturated first. "
        "Outputs are OUTDIR/<name>-colorized.<ext> with provenance metadata (XMP).",
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files, folders or glob patterns")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the results (created)")
    p.add_argument(
        "-r", "--recursive", action="store_true", help="descend into subfolders (mirrored in OUTDIR)"
    )
    p.add_argument(
        "--format",
        default="jpeg",
        choices=["jpeg", "png", "tiff", "webp", "same"],
        help="output format (default jpeg; 'same' keeps the input's, PNG for BMP/GIF); 16-bit inputs stay "
        "16-bit in png/tiff",
    )
    p.add_argument("--quality", type=int, default=92, help="JPEG/WebP quality (default 92)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (default: skip them)")
    p.add_argument("--preset", default="photo", help="pipeline preset (default photo)")
    p.add_argument(
        "--batch-size",
        type=int,
        default=0,
        help="images per forward pass (default 0: auto, 8 on a GPU, 1 on a CPU)",
    )
    p.add_argument(
        "--saturation", type=float, default=None, help="scale the predicted colours (e.g. 1.3 = livelier)"
    )
    p.add_argument(
        "--strength",
        type=float,
        default=None,
        help="colour strength from 0.5 (muted) to 1.5 (vivid), default 1: scales the model's colour, not what "
        'hints ask for; a hints file\'s "strength" applies to its photo instead',
    )
    p.add_argument(
        "--max-side", type=int, default=None, help="shrink results so the longer side is at most this"
    )
    p.add_argument(
        "--hints",
        metavar="HINTS.json",
        help='colour hints for one photo: {"points": [{"x": 0.42, "y": 0.31, "color": "#2f5a8a"}], '
        '"strokes": [{"points": [[0.1, 0.2], [0.3, 0.2]], "color": "#8a2f2f", "closed": false}]} (x, y: '
        "fractions of width and height from the top left; a closed stroke outlines a region; only the "
        "colour's chroma is used). For a batch, <stem>.hints.json beside each photo is used when present",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or notes (errors still print)")
    p.add_argument("-v", "--verbose", action="store_true", help="print every file written")
    add_model_options(p)
    p.set_defaults(func=cmd_image)


# ---------------------------------------------------------------- compare
def contact_sheet(tiles: list[tuple[str, object]], tile_height: int = 384, columns: int = 4):
    """[(label, RGB uint8/uint16 array)] -> a Pillow image: tiles in a grid, each labelled underneath."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from colorization.media import to8

    font = ImageFont.load_default(size=max(12, tile_height // 22))
    label_h = int(font.size * 1.8) if hasattr(font, "size") else 24
    pics = []
    for label, arr in tiles:
        im = Image.fromarray(np.ascontiguousarray(to8(np.asarray(arr))), "RGB")
        width = max(1, round(im.width * tile_height / im.height))
        pics.append((label, im.resize((width, tile_height), Image.Resampling.LANCZOS)))
    columns = max(1, min(columns, len(pics)))
    rows = [pics[i : i + columns] for i in range(0, len(pics), columns)]
    pad = 8
    sheet_w = max(sum(im.width for _, im in row) + pad * (len(row) + 1) for row in rows)
    sheet_h = len(rows) * (tile_height + label_h + pad) + pad
    sheet = Image.new("RGB", (sheet_w, sheet_h), (245, 245, 240))
    draw = ImageDraw.Draw(sheet)
    y = pad
    for row in rows:
        x = pad
        for label, im in row:
            sheet.paste(im, (x, y))
            text = label
            while draw.textlength(text, font=font) > im.width and len(text) > 4:
                text = text[:-2] + "…" if not text.endswith("…") else text[:-2] + "…"
            draw.text((x + 2, y + tile_height + label_h * 0.2), text, fill=(20, 20, 20), font=font)
            x += im.width + pad
        y += tile_height + label_h + pad
    return sheet


def cmd_compare(args: argparse.Namespace) -> int:
    from colorization import build_pipeline, colorize_image, presets, provenance, zoo
    from colorization.checkpoint import CheckpointError
    from colorization.media import ImageError, atomic_write, encode_to, output_format, read_image

    src, dst = Path(args.input), Path(args.output)
    if args.model:
        try:
            chosen = [str(zoo.resolve_model(m, args.models_dir)) for m in args.model]
        except CheckpointError as exc:
            err(f"error: {exc}")
            return EXIT_USAGE
    else:
        chosen = [str(m.path) for m in zoo.list_models(args.models_dir) if m.error is None]
    if not chosen:
        err(
            f"error: no models installed: put checkpoints (.pt) in {zoo.models_dir(args.models_dir)} or pass --model PATH"
        )
        return EXIT_USAGE
    try:
        original = read_image(src)
        fmt = output_format(dst, None, None)
    except ImageError as exc:
        err(f"error: {exc}")
        return EXIT_FAILED
    tiles = [(f"original: {src.name}", original.image)]
    names = []
    for path in chosen:
        try:
            pipeline = build_pipeline(presets.get("photo", model=path, device=args.device))
            image, _ = colorize_image(src, pipeline)
        except (CheckpointError, ImageError) as exc:
            err(f"error: {exc}")
            return EXIT_FAILED
        ctx = pipeline.context()
        label = f"{ctx['model']} v{ctx['model_version']}" if ctx.get("model_version") else ctx["model"]
        names.append(label)
        tiles.append((label, image))
        print(f"{label}: done", file=sys.stderr)
    sheet = contact_sheet(tiles, tile_height=args.tile_height, columns=args.columns)
    xmp = provenance.xmp_packet(
        model=", ".join(names),
        model_version="",
        source_name=src.name,
        source_sha256=original.info["sha256"],
        extra={"kind": "comparison sheet"},
    )
    import numpy as np

    atomic_write(dst, lambda fh: encode_to(fh, np.asarray(sheet), fmt, xmp, quality=90))
    print(f"sheet: {dst} ({sheet.width}x{sheet.height}, {len(names)} models)", file=sys.stderr)
    return EXIT_OK


def add_compare(sub) -> None:
    p = sub.add_parser("compare", help="contact sheet: the original beside every installed model's result")
    p.add_argument("input", metavar="IN", help="one photo")
    p.add_argument(
        "-o", "--output", required=True, metavar="SHEET", help="sheet file (.jpg, .png, .tif, .webp)"
    )
    p.add_argument(
        "--model",
        action="append",
        default=None,
        help="compare only these models (repeatable; default: every installed model)",
    )
    p.add_argument("--models-dir", default=None, help="folder of installed models")
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--tile-height", type=int, default=384, help="height of each picture in pixels (default 384)"
    )
    p.add_argument("--columns", type=int, default=4, help="pictures per row (default 4)")
    p.set_defaults(func=cmd_compare)


# ---------------------------------------------------------------- models, stages
def _fmt_metrics(metrics: dict) -> str:
    parts = []
    for key, value in metrics.items():
        if isinstance(value, float):
            parts.append(f"{key}={value:.4g}")
        elif isinstance(value, int | str):
            parts.append(f"{key}={value}")
    return " ".join(parts)


def cmd_models(args: argparse.Namespace) -> int:
    from colorization import zoo

    models = zoo.list_models(args.models_dir)
    print(f"models directory: {zoo.models_dir(args.models_dir)} (--models-dir or $COLORARCHIVE_MODELS)")
    print(f"bundled models:   {zoo.BUNDLED_DIR}")
    if not models:
        print(
            "no models installed: put a checkpoint (.pt) in the models directory, or train one with "
            "`colorize-train fit`"
        )
        return EXIT_OK
    print(f"  {'name':<24} {'version':<8} {'params':>8}  {'source':<8} metrics")
    for m in models:
        mark = "*" if m.default else " "
        if m.error:
            print(f"{mark} {m.path.name:<24} unreadable: {m.error}")
            continue
        params = f"{m.params / 1e6:.2f}M"
        figures = _fmt_metrics(zoo.headline_metrics(m.metrics)) or "-"
        print(f"{mark} {m.name:<24} {m.version:<8} {params:>8}  {m.source:<8} {figures}")
        print(f"  {'':<24} {m.path}" + ("  (takes colour hints)" if m.takes_hints else ""))
    if not any(m.default for m in models):
        print("(no default model: write a file name into DEFAULT in the models directory, or pass --model)")
    else:
        print("* = default model")
    return EXIT_OK


def add_models(sub) -> None:
    p = sub.add_parser("models", help="list installed models, their metrics and the default")
    p.add_argument("--models-dir", default=None, help="folder of installed models")
    p.set_defaults(func=cmd_models)


def cmd_stages(args: argparse.Namespace) -> int:
    from colorization.stages import KINDS, choices, options

    for kind in KINDS:
        for name, text in choices(kind):
            print(f"{kind:<12} {name:<12} {text}; options: {', '.join(options(kind, name)) or '-'}")
    return EXIT_OK


def add_stages(sub) -> None:
    p = sub.add_parser("stages", help="list the registered pipeline stages per kind")
    p.set_defaults(func=cmd_stages)


SUBCOMMANDS = [add_image, add_compare, add_models, add_stages]


def add_video(sub) -> None:  # the film subcommand lives in cli_video.py
    from colorization.cli_video import add_video as add

    add(sub)


SUBCOMMANDS.insert(1, add_video)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="colorize", description="Colorize black-and-white photographs and film."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        err("interrupted")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
