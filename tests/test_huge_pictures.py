"""Huge pictures under the pixel limit are read in memory bounded by the pixels needed, not decoded whole:
at upload, for the previews and when colorized.

Each step runs in a fresh interpreter that reports its own peak resident memory (VmHWM: Python, libraries and
pixels together, as a worker's budget counts it). The pictures are made here by libvips, line by line: a
16382 x 16382 WebP (lossless, 0.1 MB on disk), a 16000 x 16000 GIF and a 17000 x 17000 interlaced RGB PNG.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.patterns import pattern

ROOT = Path(__file__).resolve().parents[1]
MB = 2**20
BUDGET = 1024 * MB  # one worker process, or the web process's upload check
# The upload check reads headers (and a JPEG at 1/8): well under the budget, whatever the picture.
CHECK_BUDGET = 400 * MB
# libwebp's lossless decoder keeps the whole picture as 4-byte pixels (its back-references may reach any
# earlier pixel): 1.07 GB at WebP's largest size, whatever reads it (libvips, libwebp itself).
WEBP_LOSSLESS_BUDGET = 1200 * MB
# `colorize image` on that WebP: the decoder's 1.07 GB, torch and the model, and bands of the picture.
# libvips decodes a lossless WebP whole (2.1 GB peak at this size, measured on its own), the rest is the model
COLORIZE_BUDGET = 3200 * MB

STEP = r"""
import json, re, sys, tempfile
from pathlib import Path
step, src = sys.argv[1], Path(sys.argv[2])
if step == "colorize":
    import pyvips
    from colorization.cli import main
    out = Path(sys.argv[4])
    assert main(["image", str(src), "-o", str(out), "--model", sys.argv[3], "--device", "cpu", "-q"]) == 0
    made = pyvips.Image.new_from_file(str(next(out.iterdir())))  # the header only
    print(json.dumps({"size": [made.width, made.height], "bands": made.bands, "format": made.get("vips-loader")}))
elif step == "check":
    from django.core.files.base import File
    from portal.catalog.sniff import check_content
    with open(src, "rb") as fh:
        check_content(File(fh, name=src.name), src.name, "image")
    print(json.dumps({}))
else:
    from PIL import Image
    from colorization.media.previews import write_preview
    with tempfile.TemporaryDirectory() as tmp:
        info = write_preview(src, Path(tmp) / "preview.jpg", 1600)
        write_preview(Path(tmp) / "preview.jpg", Path(tmp) / "thumb.jpg", 480)
        info["preview"] = Image.open(Path(tmp) / "preview.jpg").size
        info["thumb"] = Image.open(Path(tmp) / "thumb.jpg").size
    print(json.dumps(info))
peak = int(re.search(r"VmHWM:\s+(\d+) kB", open("/proc/self/status").read()).group(1)) * 1024
print(json.dumps({"peak": peak}))
"""


def run_step(step: str, src: Path, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "portal.settings"}
    done = subprocess.run(
        [sys.executable, "-c", STEP, step, str(src), *args], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    *_, result, peak = done.stdout.strip().splitlines()
    return {**json.loads(result), **json.loads(peak)}


@pytest.fixture(scope="module")
def huge(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("huge")
    files = {
        "webp": folder / "survey_1920.webp",
        "gif": folder / "map_1888.gif",
        "png": folder / "panorama_1911.png",
    }
    pattern(16382, 16382).webpsave(str(files["webp"]), lossless=True, effort=0)
    pattern(16000, 16000).gifsave(str(files["gif"]), effort=1)
    pattern(17000, 17000, 3).pngsave(str(files["png"]), interlace=True, compression=1)
    return files


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["webp", "gif", "png"])
def test_the_upload_check_of_a_huge_picture_reads_its_header_not_its_pixels(huge, kind):
    assert run_step("check", huge[kind])["peak"] < CHECK_BUDGET  # before: 4.1 GB, 0.3 GB, 1.2 GB


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind, size, budget",
    [
        ("webp", (16382, 16382), WEBP_LOSSLESS_BUDGET),
        ("gif", (16000, 16000), BUDGET),
        ("png", (17000, 17000), BUDGET),
    ],
)
def test_previews_of_a_huge_picture_stay_within_the_budget(huge, kind, size, budget):
    made = run_step("preview", huge[kind])
    assert made["peak"] < budget  # before: 5.7 GB, 3.2 GB, 0.95 GB
    assert (made["width"], made["height"]) == size
    assert made["preview"] == [1600, 1600] and made["thumb"] == [480, 480]
    assert made["is_colour"] == (kind == "png")


@pytest.mark.slow
def test_colorizing_a_huge_picture_reads_and_writes_it_in_bands(huge, tiny_model, tmp_path):
    """`colorize image` on the 16382 x 16382 WebP: the network's input is read reduced, the full-resolution
    merge and the JPEG are made a band at a time (colorization.media.bands); the result is the whole picture,
    as an RGB JPEG."""
    made = run_step("colorize", huge["webp"], str(tiny_model), str(tmp_path / "out"))
    assert made["peak"] < COLORIZE_BUDGET  # before: 6.2 GB; measured 2.8 GB
    assert made["size"] == [16382, 16382] and made["bands"] == 3 and made["format"] == "jpegload"


@pytest.mark.parametrize("suffix", [".webp", ".gif"])
def test_a_normal_size_preview_looks_as_the_full_decode_does(tmp_path, suffix):
    """The reduced readers give the preview the whole-picture reader (read_rgb8, then Pillow's thumbnail) gave."""
    from colorization import media
    from colorization.media.previews import decode_for_preview, write_preview

    y, x = np.mgrid[0:1500, 0:7000]
    grey = ((x // 40 + y // 30) % 2 * 100 + 60 + (x % 97) // 3 + y // 50).astype(np.uint8)
    src = tmp_path / f"plate{suffix}"
    Image.fromarray(grey, "L").save(src, **({"lossless": True, "method": 0} if suffix == ".webp" else {}))
    info = write_preview(src, tmp_path / "preview.jpg", 1600)
    assert (info["width"], info["height"]) == (7000, 1500) and not info["is_colour"]
    assert Image.open(tmp_path / "preview.jpg").size == (1600, 343)
    reduced = Image.fromarray(decode_for_preview(src, 1600)[0])
    reduced.thumbnail((1600, 1600))  # as write_preview does next
    whole = Image.fromarray(media.read_rgb8(src))
    whole.thumbnail((1600, 1600))  # the preview before: the whole picture, then Pillow's thumbnail
    made, before = np.asarray(reduced, dtype=int), np.asarray(whole, dtype=int)
    assert made.shape == before.shape
    assert abs(made.mean() - before.mean()) < 0.5  # the same picture: only the resampling kernels differ,
    assert np.abs(made - before).mean() < 2.5  # at the sharp 100-level edges of the squares (1.9 for WebP)
