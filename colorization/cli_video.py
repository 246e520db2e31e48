"""`colorize video IN -o OUT [--smoothing flow]`: the film subcommand (registered in cli.SUBCOMMANDS).

colorize video reel.mp4 -o reel-colorized.mp4 --smoothing flow
colorize video scans/ -o master.mkv --fps 24            # numbered DPX/TIFF/PNG frames -> lossless FFV1
colorize video reel.mp4 -o out.mp4 --segment-frames 300  # segments as the workers do, then joined
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from colorization import hints, stages
from colorization.cli_common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_model_options, err


def cmd_video(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from colorization import build_pipeline, presets
    from colorization.checkpoint import CheckpointError
    from colorization.media import VideoError

    src, dst = Path(args.input), Path(args.output)
    if dst.exists() and not args.overwrite:
        err(f"{dst} exists (use --overwrite to replace it)")
        return EXIT_FAILED
    try:
        given = hints.load(args.hints) if args.hints else None
    except hints.HintError as exc:
        err(f"error: {exc}; {src} was not colorized")
        return EXIT_USAGE
    options = dict(
        model=args.model,
        models_dir=args.models_dir,
        device=args.device,
        engine=args.engine,
        smoothing=args.smoothing,
        quality=args.quality,
        batch_size=args.batch_size,
        format=args.codec,
        fps=args.fps,
        strength=args.strength,
    )
    try:
        pipeline = build_pipeline(presets.get(args.preset, **options))
    except (CheckpointError, KeyError, TypeError, ValueError) as exc:
        err(f"error: {str(exc).strip(chr(34) + chr(39))}")
        return EXIT_USAGE
    if given and not pipeline.takes_hints():
        print(
            f"note: {pipeline.context().get('model')} takes no colour hints; they are ignored",
            file=sys.stderr,
        )
    bar = tqdm(unit="frame", disable=args.quiet, file=sys.stderr, desc=src.name)

    def progress(done: int, total: int | None) -> None:
        if total and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        if args.segment_frames:
            written = _by_segments(src, dst, args.segment_frames, pipeline, progress, given)
        else:
            result = pipeline.run(src, dst, on_progress=progress, hints=given)
            written = {**result.info, "frames": result.frames}
    except (VideoError, CheckpointError, OSError) as exc:
        bar.close()
        err(str(exc))
        return EXIT_FAILED
    bar.close()
    for note in written.get("dropped_streams", []):
        print(f"note: {src}: {note} (use .mkv to keep it)", file=sys.stderr)
    print(f"{src} -> {dst}: {written['frames']} frames, smoothing {args.smoothing}", file=sys.stderr)
    return EXIT_OK


def _by_segments(src: Path, dst: Path, max_frames: int, pipeline, progress, given=None) -> dict:
    """As the workers do: plan, colorize each segment with the one pipeline (its frame window), join."""
    from colorization import segments
    from colorization.media.files import sha256_file
    from colorization.media.film_writer import film_xmp

    plan = segments.plan(src, max_frames=max_frames)
    digest = sha256_file(src) if src.is_file() else ""  # a folder of numbered frames has no one digest
    xmp = film_xmp({"name": src.name, "sha256": digest}, pipeline.context())
    total = plan[-1].end_frame
    with tempfile.TemporaryDirectory(dir=dst.parent, prefix=f".{dst.stem}.segments.") as tmp:
        parts = []
        for seg in plan:
            part = Path(tmp) / f"part{seg.index:05d}{dst.suffix}"
            segments.colorize_segment(src, seg, part, pipeline=pipeline, hints=given)
            parts.append(part)
            progress(seg.end_frame, total)
        return segments.join(parts, src, dst, xmp=xmp)


def add_video(sub) -> None:
    p = sub.add_parser(
        "video",
        help="colorize a film (a video file or a folder of numbered frames)",
        description="Colorize a black-and-white film frame by frame with temporal smoothing. Frame "
        "count, timestamps, rotation, aspect and the audio/subtitle streams are kept; "
        "the output says in its metadata that it is an AI colorization.",
    )
    p.add_argument("input", metavar="IN", help="video file (MP4/MOV/MKV/AVI...) or folder of numbered images")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output file: .mp4/.mov (H.264) or .mkv (lossless FFV1)",
    )
    p.add_argument(
        "--smoothing",
        default="flow",
        choices=[name for name, _ in stages.choices("temporal")],
        help="temporal smoothing (default flow: motion-compensated, resets at scene cuts)",
    )
    p.add_argument(
        "--hints",
        metavar="HINTS.json",
        help='colour hints (points and strokes); a hint\'s "frame" (default 0) is the keyframe it was placed '
        "on: it is followed through the rest of that shot and dropped at the next scene cut; or one hints "
        'document per keyframe: {"keyframes": {"120": {"points": [...]}}}',
    )
    p.add_argument(
        "--strength",
        type=float,
        default=None,
        help="colour strength from 0.5 (muted) to 1.5 (vivid), default 1: scales the model's colour, not what "
        'hints ask for (a hints file\'s "strength" applies instead)',
    )
    p.add_argument("--quality", type=int, default=None, help="H.264 CRF, lower is better (default 18)")
    p.add_argument(
        "--codec", default=None, choices=["h264", "ffv1"], help="default: from the output's suffix"
    )
    p.add_argument("--fps", default=None, help="frame rate of a folder of images (default 24)")
    p.add_argument(
        "--segment-frames",
        type=int,
        default=None,
        help="cut into segments of at most this many frames, colorize each, join (as the workers do)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=0,
        help="frames per forward pass (default 0: auto, 8 on a GPU, 1 on a CPU)",
    )
    p.add_argument("--preset", default="film", help="pipeline preset (default film)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_model_options(p)
    p.set_defaults(func=cmd_video)
