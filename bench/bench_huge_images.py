"""Peak memory of one process reading a huge picture: the upload check, the previews, the colorization.

    python bench/bench_huge_images.py [--steps check preview colorize] [--keep DIR] [--no-write]

Writes a 16382 x 16382 WebP, a 16000 x 16000 GIF and a 17000 x 17000 interlaced PNG (grey and RGB), each a few
KB to 33 MB on disk, and runs each step on each file in a fresh interpreter that prints its own peak resident
memory (VmHWM: the whole process, Python and libraries included, as a worker's budget counts it):

    check     the portal's upload check (portal.catalog.sniff.check_content, as an upload reaches it)
    preview   the item's web preview (1600 px) and thumbnail (480 px), as workers.tasks.make_previews makes them
    colorize  `colorize image` on the grey 16382 x 16382 picture (the installed default model, else a fresh U-Net):
              read reduced for the network, merged and written in bands (colorization.media.bands)
    colorize-whole  the same pipeline with the picture read, merged and written whole (as before the bands;
              not run unless named: it needs about 6 GB)

Writes the section "## Huge pictures (bench/bench_huge_images.py)" of BENCHMARKS.md. About 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchlib import publish  # noqa: E402

from tests.support.patterns import pattern  # noqa: E402

SECTION = "## Huge pictures (bench/bench_huge_images.py)"


def make_files(folder: Path) -> dict[str, Path]:
    files = {
        "webp 16382x16382 grey": folder / "huge.webp",
        "gif 16000x16000 grey": folder / "huge.gif",
        "png 17000x17000 grey, interlaced": folder / "huge-grey.png",
        "png 17000x17000 RGB, interlaced": folder / "huge-rgb.png",
    }
    for path in files.values():
        if path.exists():
            continue
        if path.suffix == ".webp":
            pattern(16382, 16382).webpsave(str(path), lossless=True, effort=0)
        elif path.suffix == ".gif":
            pattern(16000, 16000).gifsave(str(path), effort=1)
        else:
            pattern(17000, 17000, 3 if "rgb" in path.name else 1).pngsave(
                str(path), interlace=True, compression=1
            )
    return files


STEP = r"""
import json, os, re, sys, tempfile, time
from pathlib import Path
step, src = sys.argv[1], Path(sys.argv[2])
start = time.perf_counter()
if step == "check":
    from django.core.files.base import File
    from portal.catalog.sniff import check_content
    with open(src, "rb") as fh:
        check_content(File(fh, name=src.name), src.name, "image")
elif step == "preview":
    from colorization.media.previews import write_preview
    with tempfile.TemporaryDirectory() as tmp:
        write_preview(src, Path(tmp) / "preview.jpg", 1600)
        write_preview(Path(tmp) / "preview.jpg", Path(tmp) / "thumb.jpg", 480)
elif step == "colorize":
    from colorization.cli import main
    with tempfile.TemporaryDirectory() as tmp:
        assert main(["image", str(src), "-o", tmp, "--model", sys.argv[3], "--device", "cpu"]) == 0
else:  # colorize-whole: the photo pipeline with the picture read, merged and written whole (before bands)
    from colorization import build_pipeline, presets
    spec = presets.get("photo", model=sys.argv[3], device="cpu", format="jpeg")
    spec["decode"] = {"name": "image", "banded_megapixels": 1e6}
    with tempfile.TemporaryDirectory() as tmp:
        build_pipeline(spec).run(src, Path(tmp) / "out.jpg")
peak = int(re.search(r"VmHWM:\s+(\d+) kB", open("/proc/self/status").read()).group(1)) * 1024
print(json.dumps({"peak": peak, "seconds": time.perf_counter() - start}))
"""


def measure(step: str, src: Path, model: str = "") -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "DJANGO_SETTINGS_MODULE": "portal.settings"}
    done = subprocess.run(
        [sys.executable, "-c", STEP, step, str(src), model], env=env, capture_output=True, text=True
    )
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["killed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def pick_model(folder: Path) -> str:
    from colorization import zoo
    from colorization.checkpoint import CheckpointError

    try:
        return str(zoo.resolve_model("default"))
    except CheckpointError:
        from colorization.checkpoint import save
        from colorization.models import UNet

        return str(save(folder / "random-unet.pt", UNet(), name="random-unet"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps",
        nargs="+",
        default=["check", "preview", "colorize"],
        choices=["check", "preview", "colorize", "colorize-whole"],
    )
    parser.add_argument("--keep", type=Path, help="folder for the test pictures (kept between runs)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        files = make_files(folder)
        rows = []
        for step in args.steps:
            for what, path in files.items():
                if step.startswith("colorize") and not what.startswith("webp"):
                    continue  # one huge grey picture is enough to see the full-resolution steps
                model = pick_model(folder) if step.startswith("colorize") else ""
                result = measure(step, path, model)
                peak = f"{result['peak'] / 2**20:,.0f} MB" if "peak" in result else result["error"]
                seconds = f"{result['seconds']:.1f}" if "seconds" in result else "-"
                rows.append(f"| {step} | {what} | {path.stat().st_size / 1e6:.2f} MB | {peak} | {seconds} |")
                print(rows[-1], flush=True)
    publish(
        SECTION,
        [
            SECTION,
            "",
            f"`python bench/bench_huge_images.py` ({time.strftime('%Y-%m-%d')}): each step in a fresh interpreter; "
            "peak = its VmHWM (the whole process: Python, libraries and the picture).",
            "",
            "| step | picture | on disk | peak RSS | seconds |",
            "|---|---|---|---|---|",
            *rows,
        ],
        write=not args.no_write,
    )


if __name__ == "__main__":
    main()
