"""The network engines (colorization.engines): ONNX Runtime gives eager PyTorch's colour within TOLERANCE_AB on
real photos at their own network shapes, and the engine is chosen per device and can be overridden."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorization import engines
from colorization.frames import Frame
from colorization.stages import create

HISTORICAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "historical_color"

needs_onnx = pytest.mark.skipif(
    not engines.onnx_available(),
    reason="onnxruntime or onnx is not installed (pip install 'colorarchive[ml]')",
)


@pytest.fixture
def onnx_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(engines.CACHE_ENV, str(tmp_path / "onnx"))
    monkeypatch.delenv(engines.ENGINE_ENV, raising=False)
    return tmp_path / "onnx"


def _ab(stage, image: np.ndarray) -> np.ndarray:
    return next(iter(stage([Frame(index=0, image=image, info={})]))).ab


def _photos(count: int) -> list[np.ndarray]:
    if not HISTORICAL.is_dir():
        pytest.skip(f"real photos not present at {HISTORICAL} (see ../shared/data/MANIFEST.md)")
    files = sorted(p for p in HISTORICAL.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    # landscape, portrait and square pictures: several network shapes through one exported graph
    return [np.asarray(Image.open(p).convert("L")) for p in files[:count]]


@needs_onnx
def test_onnx_gives_the_colour_of_eager_pytorch_on_real_photos(onnx_cache):
    eager = create("colorize", "unet", device="cpu", engine="torch")
    onnx = create("colorize", "unet", device="cpu", engine="onnx")
    shapes = set()
    for image in _photos(6):
        want, got = _ab(eager, image), _ab(onnx, image)
        shapes.add(want.shape)
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= engines.TOLERANCE_AB
        assert np.abs(want).max() > 5, "the photo has colour to compare"
    assert len(shapes) > 1, "the photos cover more than one network shape"
    assert [p.suffix for p in onnx_cache.iterdir()] == [".onnx"], "one cached export, reused for every shape"


@needs_onnx
def test_onnx_follows_colour_hints_as_eager_pytorch_does(onnx_cache):
    from colorization import hints

    image = _photos(1)[0]
    given = [hints.Hint(0.4, 0.3, "#1f5fbf"), hints.Hint(0.6, 0.7, "#bf3f1f")]
    results = []
    for engine in ("torch", "onnx"):
        stage = create("colorize", "unet", device="cpu", engine=engine)
        results.append(next(iter(stage([Frame(index=0, image=image, info={"hints": given})]))).ab)
    assert np.abs(results[0] - results[1]).max() <= engines.TOLERANCE_AB
    assert np.abs(results[0] - _ab(create("colorize", "unet", device="cpu", engine="torch"), image)).max() > 5


@needs_onnx
def test_the_export_is_cached_by_checkpoint_digest(onnx_cache, tiny_model, tmp_path):
    first = create("colorize", "unet", checkpoint=str(tiny_model), engine="onnx")
    assert first.onnx.path.parent == onnx_cache
    assert engines.file_digest(tiny_model)[:16] in first.onnx.path.name
    written = first.onnx.path.stat().st_mtime_ns
    again = create("colorize", "unet", checkpoint=str(tiny_model), engine="onnx")
    assert again.onnx.path == first.onnx.path and again.onnx.path.stat().st_mtime_ns == written
    other = tmp_path / "other.pt"
    other.write_bytes(tiny_model.read_bytes() + b"\0")  # another file, another key
    assert engines.onnx_path(other) != first.onnx.path
    gray = np.asarray(Image.new("L", (64, 48), 128)).copy()
    gray[:, ::7] = 40
    eager = create("colorize", "unet", checkpoint=str(tiny_model), engine="torch")
    assert np.abs(_ab(first, gray) - _ab(eager, gray)).max() <= engines.TOLERANCE_AB


@needs_onnx
def test_auto_picks_onnx_on_a_cpu_and_torch_on_a_gpu(onnx_cache, tiny_model):
    assert engines.pick_engine("auto", "cpu") == "onnx"
    assert engines.pick_engine("auto", "cuda") == "torch"
    assert engines.pick_engine("auto", "mps") == "torch"
    stage = create("colorize", "unet", checkpoint=str(tiny_model), device="cpu")
    assert stage.engine == "onnx" and stage.describe()["engine"] == "onnx"


def test_an_explicit_engine_or_the_environment_overrides_auto(onnx_cache, tiny_model, monkeypatch):
    stage = create("colorize", "unet", checkpoint=str(tiny_model), device="cpu", engine="torch")
    assert stage.engine == "torch" and stage.onnx is None
    monkeypatch.setenv(engines.ENGINE_ENV, "torch")
    assert create("colorize", "unet", checkpoint=str(tiny_model), device="cpu").engine == "torch"
    if engines.onnx_available():
        assert engines.pick_engine("onnx", "cpu") == "onnx"  # an explicit engine wins over the environment
    monkeypatch.setenv(engines.ENGINE_ENV, "tensorrt")
    with pytest.raises(ValueError, match="COLORARCHIVE_ENGINE 'tensorrt'"):
        engines.pick_engine("auto", "cpu")
    with pytest.raises(ValueError, match="unknown engine 'fast'"):
        engines.pick_engine("fast", "cpu")


def test_onnx_on_a_gpu_is_refused(onnx_cache):
    with pytest.raises(engines.EngineError, match="runs on the CPU"):
        engines.pick_engine("onnx", "cuda")


def test_the_cli_engine_flag_reaches_the_stage(onnx_cache, tiny_model, samples, tmp_path, capsys):
    from colorization.cli import main

    out = tmp_path / "out"
    code = main(
        ["image", str(samples["gray.jpg"]), "-o", str(out), "--model", str(tiny_model), "--engine", "torch"]
    )
    assert code == 0
    assert "(torch)" in capsys.readouterr().err
    assert len(list(out.iterdir())) == 1


@needs_onnx
def test_auto_falls_back_to_torch_when_the_export_cannot_be_written(onnx_cache, tiny_model, monkeypatch):
    blocked = onnx_cache.parent / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv(engines.CACHE_ENV, str(blocked))
    with pytest.warns(UserWarning, match="running eager PyTorch"):
        stage = create("colorize", "unet", checkpoint=str(tiny_model), device="cpu")
    assert stage.engine == "torch"
    with pytest.raises(OSError):
        create("colorize", "unet", checkpoint=str(tiny_model), device="cpu", engine="onnx")
