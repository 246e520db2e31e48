"""Checkpoints: round trip, fp16, and a clear CheckpointError for every kind of bad file."""

import pytest
import torch

from colorization import checkpoint
from colorization.checkpoint import CheckpointError
from colorization.models import UNet, UNetConfig


@pytest.fixture
def model():
    torch.manual_seed(3)
    return UNet(UNetConfig(width=4)).eval()


def test_round_trip_rebuilds_the_same_network(tmp_path, model):
    path = checkpoint.save(
        tmp_path / "m.pt",
        model,
        name="mine",
        version="7",
        data_cfg={"space": "lab", "size": 64, "l_scale": 100, "ab_scale": 128},
        metrics={"mae": 5.5},
    )
    loaded, ckpt = checkpoint.load_model(path)
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert (ckpt["name"], ckpt["version"], ckpt["data_cfg"]["size"], ckpt["metrics"]["mae"]) == (
        "mine",
        "7",
        64,
        5.5,
    )
    assert ckpt["model_args"]["width"] == 4 and not loaded.training


def test_fp16_save_halves_the_file_and_stays_close(tmp_path, model):
    full = checkpoint.save(tmp_path / "full.pt", model)
    half = checkpoint.save(tmp_path / "half.pt", model, half=True)
    assert half.stat().st_size < 0.7 * full.stat().st_size
    loaded, _ = checkpoint.load_model(half)
    assert next(loaded.parameters()).dtype == torch.float32
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        assert (loaded(x) - model(x)).abs().max() < 1e-2


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, model):
    checkpoint.save(tmp_path / "m.pt", model)
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist") as err:
        checkpoint.load(tmp_path / "nope.pt")
    assert "nope.pt" in str(err.value) and "\n" not in str(err.value)


def test_corrupt_checkpoint(tmp_path, model):
    good = checkpoint.save(tmp_path / "good.pt", model).read_bytes()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="not a readable model checkpoint"):
        checkpoint.load(bad)
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(CheckpointError, match="text.pt"):
        checkpoint.load(tmp_path / "text.pt")


def test_foreign_checkpoint(tmp_path, model):
    torch.save(model.state_dict(), tmp_path / "bare.pt")  # a plain state_dict: no header, no model_args
    with pytest.raises(CheckpointError, match="not a Colorarchive checkpoint"):
        checkpoint.load(tmp_path / "bare.pt")


def test_unknown_arch_and_mismatched_weights(tmp_path, model):
    path = checkpoint.save(tmp_path / "m.pt", model)
    ckpt = torch.load(path, weights_only=True)
    torch.save({**ckpt, "arch": "transformer"}, tmp_path / "arch.pt")
    with pytest.raises(CheckpointError, match="transformer"):
        checkpoint.load(tmp_path / "arch.pt")
    torch.save({**ckpt, "model_args": {**ckpt["model_args"], "width": 8}}, tmp_path / "shape.pt")
    with pytest.raises(CheckpointError, match="does not match"):
        checkpoint.load_model(tmp_path / "shape.pt")
