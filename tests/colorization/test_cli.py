"""The `colorize` command: image (files, folders, globs), compare, models, stages; exit codes and messages."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from colorization import zoo
from colorization.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def photos(tmp_path, samples):
    """in/a.png, in/b.jpg, in/colour.jpg, in/sub/c.tif (16 bit), in/sub/d.bmp."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for name, target in [
        ("gray.png", "a.png"),
        ("gray.jpg", "b.jpg"),
        ("rgb.jpg", "colour.jpg"),
        ("gray16.tif", "sub/c.tif"),
        ("gray.bmp", "sub/d.bmp"),
    ]:
        (folder / target).write_bytes(samples[name].read_bytes())
    return folder


@pytest.fixture
def isolated_models(tmp_path, monkeypatch, tiny_model):
    """Models dir = tmp/models with the tiny model and a DEFAULT file; no bundled models."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "tiny.pt").write_bytes(tiny_model.read_bytes())
    (folder / "DEFAULT").write_text("tiny.pt")
    monkeypatch.setattr(zoo, "BUNDLED_DIR", tmp_path / "no-bundled")
    monkeypatch.setenv("COLORARCHIVE_MODELS", str(folder))
    return folder


def test_folder_with_default_model(photos, tmp_path, isolated_models, capsys):
    out = tmp_path / "out"
    assert main(["image", str(photos), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "a-colorized.jpg",
        "b-colorized.jpg",
        "colour-colorized.jpg",
    ]
    err = capsys.readouterr().err
    assert "model: tiny (version 0.1)" in err and "3 colorized, 0 skipped, 0 failed" in err
    assert "colour.jpg is in colour: it was desaturated first" in err


def test_recursive_mirrors_subfolders_and_format_same(photos, tmp_path, isolated_models):
    out = tmp_path / "out"
    assert main(["image", str(photos), "-o", str(out), "--recursive", "--format", "same", "-q"]) == 0
    found = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert found == [
        "a-colorized.png",
        "b-colorized.jpg",
        "colour-colorized.jpg",
        "sub/c-colorized.tif",
        "sub/d-colorized.png",
    ]  # BMP cannot hold XMP: PNG instead
    assert tifffile.imread(out / "sub" / "c-colorized.tif").dtype == np.uint16


def test_files_and_globs(photos, tmp_path, tiny_model):
    out = tmp_path / "out"
    code = main(
        [
            "image",
            str(photos / "a.png"),
            str(photos / "sub" / "*.tif"),
            "-o",
            str(out),
            "--model",
            str(tiny_model),
            "--format",
            "png",
            "-q",
        ]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["a-colorized.png", "c-colorized.png"]


def test_existing_outputs_are_skipped_unless_overwrite(photos, tmp_path, tiny_model, capsys):
    out = tmp_path / "out"
    args = ["image", str(photos / "a.png"), "-o", str(out), "--model", str(tiny_model), "-q"]
    assert main(args) == 0
    first = (out / "a-colorized.jpg").stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0
    assert "a-colorized.jpg exists (use --overwrite to replace it)" in capsys.readouterr().err
    assert (out / "a-colorized.jpg").stat().st_mtime_ns == first
    assert main([*args, "--overwrite"]) == 0
    assert (out / "a-colorized.jpg").stat().st_mtime_ns != first


def test_bad_files_are_reported_and_the_rest_still_runs(photos, tmp_path, tiny_model, capsys):
    (photos / "broken.jpg").write_bytes((photos / "b.jpg").read_bytes()[:300])
    (photos / "notes.png").write_text("not an image")
    out = tmp_path / "out"
    code = main(
        [
            "image",
            str(photos),
            str(tmp_path / "missing.jpg"),
            "-o",
            str(out),
            "--model",
            str(tiny_model),
            "-q",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert f"{photos / 'broken.jpg'}: corrupt or truncated image data" in err
    assert f"{photos / 'notes.png'}: not an image file" in err
    assert f"{tmp_path / 'missing.jpg'}: no such file or folder" in err
    assert "3 colorized, 0 skipped, 3 failed" in err
    assert sorted(p.name for p in out.iterdir()) == [
        "a-colorized.jpg",
        "b-colorized.jpg",
        "colour-colorized.jpg",
    ]


def test_missing_model_is_a_clear_usage_error(photos, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(zoo, "BUNDLED_DIR", tmp_path / "no-bundled")
    code = main(
        ["image", str(photos / "a.png"), "-o", str(tmp_path / "out"), "--models-dir", str(tmp_path / "none")]
    )
    assert code == 2
    assert "no colorization model is installed: put a checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_compare_sheet(tmp_path, samples, isolated_models, tiny_model, capsys):
    import torch

    from colorization.checkpoint import save
    from colorization.models import UNet, UNetConfig

    torch.manual_seed(5)
    save(isolated_models / "other.pt", UNet(UNetConfig(width=2)), name="other", version="3")
    sheet = tmp_path / "sheet.png"
    assert main(["compare", str(samples["gray.png"]), "-o", str(sheet), "--tile-height", "96"]) == 0
    im = Image.open(sheet)
    # original + 2 models side by side: 3 tiles of 128 px plus padding, one row of 96 px plus a label
    assert im.width == 3 * 128 + 4 * 8 and 96 < im.height < 160
    arr = np.asarray(im.convert("RGB")).astype(int)
    tile = lambda i: arr[8:104, 8 + i * 136 : 8 + i * 136 + 128]  # noqa: E731
    assert np.abs(tile(0)[..., 0] - tile(0)[..., 2]).max() <= 2  # the original is grey
    assert np.abs(tile(1) - tile(2)).mean() > 1  # two different models, two different results
    assert "2 models" in capsys.readouterr().err


def test_models_lists_metrics_and_the_default(isolated_models, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "* tiny" in out and "mae=9.5" in out and "psnr=21.25" in out and "* = default model" in out


def test_stages_lists_every_kind(capsys):
    assert main(["stages"]) == 0
    out = capsys.readouterr().out
    for kind, name in [
        ("decode", "image"),
        ("colorize", "unet"),
        ("postprocess", "merge_luma"),
        ("encode", "image"),
    ]:
        line = next(line for line in out.splitlines() if line.startswith(kind))
        assert name in line


def test_the_command_runs_as_a_program(photos, tmp_path, tiny_model):
    """A real process: exit status 1 when a file failed, outputs for the rest, one line per error."""
    (photos / "empty.jpg").write_bytes(b"")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "colorization.cli",
            "image",
            str(photos / "a.png"),
            str(photos / "empty.jpg"),
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(tiny_model),
            "-q",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1
    assert [line for line in proc.stderr.splitlines() if "error" in line] == [
        f"error: {photos / 'empty.jpg'}: empty file (0 bytes)"
    ]
    assert (tmp_path / "out" / "a-colorized.jpg").is_file()


def test_earlier_results_inside_the_input_folder_are_not_inputs(photos, tmp_path, tiny_model, capsys):
    out = photos / "colour"
    args = ["image", str(photos), "-o", str(out), "-r", "--model", str(tiny_model), "-q"]
    assert main(args) == 0
    first = sorted(p.name for p in out.rglob("*"))
    capsys.readouterr()
    assert main([*args, "--overwrite"]) == 0
    assert sorted(p.name for p in out.rglob("*")) == first  # no "a-colorized-colorized.jpg"
    assert "5 colorized" in capsys.readouterr().err


def test_sixteen_bit_input_to_jpeg_says_how_to_keep_16_bits(photos, tmp_path, tiny_model, capsys):
    assert (
        main(
            ["image", str(photos / "sub" / "c.tif"), "-o", str(tmp_path / "out"), "--model", str(tiny_model)]
        )
        == 0
    )
    assert "c.tif is 16-bit; jpeg keeps 8 bits" in capsys.readouterr().err
