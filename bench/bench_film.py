"""Film benchmark: a 720p film colorized in segments by one and by two worker processes, then joined.

    python bench/bench_film.py [--duration 25] [--height 720] [--segment-frames 120] [--workers 1,2]
                               [--model NAME|PATH] [--smoothing flow] [--no-write]

A grey film of `--duration` seconds at `--height` lines is made first (the black-and-white archive clip
a-bomb_blast_effects_part.mp4 from the shared data, looped and scaled, with a tone as its sound track; the
testsrc2 pattern where the clip is absent), with a keyframe every second, and planned into segments of at most
`--segment-frames` frames, as the portal's workers get them. For each worker count the segments go to that many
worker processes (each with its share of the CPU cores, started and with the model loaded before the clock
starts, as warm Celery workers); the wall time runs from the first segment handed out to the last part written.
Then the parts are joined (no re-encoding, the sound copied) in a process of its own, whose peak RSS is read
from /proc (VmHWM): it should not depend on the number of parts or the film's length.

Without `--model` the default model is used, else a freshly initialised full-width U-Net (same cost).
Writes the section "## Film segments (bench/bench_film.py)" of BENCHMARKS.md. 25 s of 720p take many minutes
on 2 busy CPU cores; `--duration 1 --height 144 --model tiny.pt` (any small checkpoint) checks the script.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from bench_video import pick_model  # noqa: E402
from benchlib import load_average, machine, publish  # noqa: E402

SECTION = "## Film segments (bench/bench_film.py)"
CLIP = REPO / ".." / "shared" / "data" / "video" / "a-bomb_blast_effects_part.mp4"
FPS = 24

JOIN = """
import sys, time
from colorization import segments
src, dst, *parts = sys.argv[1:]
start = time.perf_counter()
info = segments.join(parts, src, dst)
seconds = time.perf_counter() - start
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(seconds, peak, info["frames"])
"""


def make_film(dst: Path, duration: float, height: int) -> tuple[Path, str]:
    """A grey H.264 film with sound, `duration` seconds at `height` lines and 24 fps, a keyframe a second."""
    if CLIP.exists():
        source = ["-stream_loop", "-1", "-i", str(CLIP)]
        what = f"{CLIP.name}, looped"
    else:
        source = ["-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate={FPS}"]
        what = "the testsrc2 pattern"
    command = [
        "ffmpeg",
        "-v",
        "error",
        "-y",
        *source,
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
    ]
    command += ["-map", "0:v", "-map", "1:a", "-t", str(duration), "-r", str(FPS)]
    command += ["-vf", f"scale=-2:{height},format=gray,format=yuv420p"]
    command += ["-c:v", "libx264", "-preset", "fast", "-crf", "18", "-g", str(FPS), "-c:a", "aac", str(dst)]
    subprocess.run(command, check=True)
    return dst, what


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _warm(options: dict) -> None:
    """Start-up of a worker process: torch imported, the model loaded (the pipeline cached, as in a Celery
    worker); the pause keeps this process busy so the other warm-ups land on the other processes."""
    from colorization.api import cached_pipeline

    cached_pipeline("film", **options)
    time.sleep(2)


def _colorize(src: str, segment: dict, dst: str, options: dict) -> None:
    from colorization import segments

    segments.colorize_segment(src, segment, dst, **options)  # checks that the part has the segment's frames


def colorize_parts(
    src: Path, plan: list, folder: Path, workers: int, options: dict
) -> tuple[float, list[Path]]:
    """Wall seconds for `workers` processes to colorize every segment, and the parts in order."""
    folder.mkdir()
    parts = [folder / f"part{seg.index:04d}.mp4" for seg in plan]
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker,
                             initargs=(threads,)) as pool:  # fmt: skip
        for job in [pool.submit(_warm, options) for _ in range(workers)]:
            job.result()
        start = time.perf_counter()
        jobs = [
            pool.submit(_colorize, str(src), seg.to_dict(), str(part), options)
            for seg, part in zip(plan, parts, strict=True)
        ]
        for job in jobs:
            job.result()
    return time.perf_counter() - start, parts


def join(src: Path, parts: list[Path], dst: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of the join in a process of its own."""
    run = subprocess.run(
        [sys.executable, "-c", JOIN, str(src), str(dst), *map(str, parts)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    seconds, peak, _ = run.stdout.split()
    return float(seconds), int(peak) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=25, help="seconds of film (default 25)")
    parser.add_argument("--height", type=int, default=720, help="lines of the film (default 720)")
    parser.add_argument("--segment-frames", type=int, default=120, help="most frames a segment (default 120)")
    parser.add_argument("--workers", default="1,2", help="worker process counts to compare (default 1,2)")
    parser.add_argument("--model", help="model name or checkpoint (default: the default model)")
    parser.add_argument("--smoothing", default="flow", help="temporal smoothing (default flow)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    if shutil.which("ffmpeg") is None:
        raise SystemExit("bench_film: needs the ffmpeg command to make its film")

    from colorization import segments
    from colorization.media import probe

    with tempfile.TemporaryDirectory(prefix="bench-film-") as tmp:
        tmp = Path(tmp)
        model, model_text, _ = pick_model(args.model, tmp)
        src, what = make_film(tmp / "film.mp4", args.duration, args.height)
        info = probe(src)
        plan = segments.plan(src, max_frames=args.segment_frames)
        frames = plan[-1].end_frame
        options = {"model": str(model), "smoothing": args.smoothing}
        rows = []
        for workers in counts:
            seconds, parts = colorize_parts(src, plan, tmp / f"parts-{workers}", workers, options)
            join_seconds, peak = join(src, parts, tmp / f"joined-{workers}.mp4")
            rows.append((workers, seconds, join_seconds, peak))
            print(
                f"{workers} worker(s): {seconds:.1f} s for {frames} frames; join {join_seconds:.2f} s, {peak:.0f} MiB"
            )
        base = rows[0][1]
        lines = [
            SECTION,
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()} (load average {load_average()} at the end).",
            f"Film: {what}, {info['width']}x{info['height']}, {frames} frames ({args.duration:g} s at {FPS} fps), "
            f"in {len(plan)} segments of at most {args.segment_frames} frames; model {model_text}, "
            f"smoothing {args.smoothing}. Command: `python bench/bench_film.py --duration {args.duration:g} "
            f"--height {args.height} --segment-frames {args.segment_frames} --workers {args.workers} "
            f"--smoothing {args.smoothing}{f' --model {args.model}' if args.model else ''}`.",
            "",
            "| worker processes | wall time, s | vs 1 worker | frames/s | join, s | join peak RSS, MiB |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for workers, seconds, join_seconds, peak in rows:
            lines.append(
                f"| {workers} | {seconds:.1f} | {base / seconds:.2f}x | {frames / seconds:.2f} | "
                f"{join_seconds:.2f} | {peak:.0f} |"
            )
        lines += [
            "",
            "Wall time: from the first segment handed out to the last part written, each worker process loading "
            "the model once before the clock starts (threads split evenly between the processes). The join remuxes the parts without "
            "re-encoding in a process of its own (its peak RSS includes Python and PyAV).",
        ]
        publish(SECTION, lines, write=not args.no_write)


if __name__ == "__main__":
    main()
