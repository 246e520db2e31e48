"""Fine-tuning a shipped model on new material: its config continues the base (architecture, loss, hints,
decoding, init_from, a gentle rate), and the replay mix keeps every new frame plus a sample of the old, split
by split."""

from __future__ import annotations

import pytest
import torch

from colorization import checkpoint
from colorization.models import UNet, UNetConfig
from training.build_dataset import read_index
from training.finetune import GENTLE_LR_FACTOR, config_for, keep_decoding
from training.replay import mix
from training.train import fit

HINT_MODEL = dict(
    width=4, head="bins", hints=True, coords=True, context=True, head_stride=2, temperature=0.65
)


@pytest.fixture
def base(tmp_path):
    """A tiny hint model as a shipped default stores itself: model_args, train_config, tuned decoding."""
    model = UNet(UNetConfig(**HINT_MODEL, chroma_gain=1.2))
    train_config = {"loss": "bins", "head": "bins", "hints": True, "lr": 5e-4, "dataset": "data/frames",
                    "init_from": "runs/older/best.pt", "pearson_weight": 2.0, "no_such_key": 1}  # fmt: skip
    return checkpoint.save(tmp_path / "base.pt", model, name="base", train_config=train_config)


def test_the_config_continues_the_base_at_a_gentle_rate(base):
    cfg = config_for(base, {"epochs": 2})
    assert (cfg.width, cfg.head, cfg.loss, cfg.hints, cfg.coords, cfg.context, cfg.head_stride) == (
        4, "bins", "bins", True, True, True, 2
    )  # fmt: skip
    assert cfg.temperature == 0.65 and cfg.pearson_weight == 2.0 and cfg.epochs == 2
    assert cfg.init_from == str(base) and cfg.lr == pytest.approx(5e-4 * GENTLE_LR_FACTOR)
    assert not cfg.tune_decoding  # the base's decoding is kept (keep_decoding)


def test_a_checkpoint_without_train_config_gets_its_heads_loss(tmp_path):
    plain = checkpoint.save(tmp_path / "plain.pt", UNet(UNetConfig(width=4)), name="plain")
    cfg = config_for(plain)
    assert (cfg.loss, cfg.head, cfg.hints, cfg.width) == ("mse", "tanh", False, 4)


def test_mix_keeps_the_new_frames_and_samples_the_old_per_split(dataset, tmp_path):
    new_rows = read_index(dataset)
    manifest = mix(dataset, dataset, tmp_path / "mix", min_frames=1, max_frames=3)
    counts = manifest["mix"]
    assert counts["new"]["frames"] == {
        s: sum(r["split"] == s for r in new_rows) for s in ("train", "val", "test")
    }
    assert all(1 <= n <= 3 for n in counts["replay"]["frames"].values())
    rows = read_index(tmp_path / "mix")
    assert len(rows) == manifest["frames"] == len(new_rows) + sum(counts["replay"]["frames"].values())
    assert {r["group"].split("/")[0] for r in rows if r["split"] == "test"} == {"new", "replay"}
    alone = mix(dataset, None, tmp_path / "alone")
    assert "replay" not in alone["mix"] and alone["frames"] == len(new_rows)


def test_fine_tuning_starts_from_the_base_and_keeps_its_decoding(base, dataset, tmp_path):
    overrides = dict(dataset=str(dataset), out_dir=str(tmp_path), name="tuned", crop=64, batch_size=2,
                     max_steps_per_epoch=2, epochs=1, workers=0, save_half=False)  # fmt: skip
    cfg = config_for(base, overrides)
    trained = fit(cfg)
    keep_decoding(trained, base, half=False)
    model, ckpt = checkpoint.load_model(trained)
    start, _ = checkpoint.load_model(base)
    assert ckpt["train_config"]["init_from"] == str(base)
    assert ckpt["model_args"]["chroma_gain"] == 1.2 and ckpt["model_args"]["temperature"] == 0.65
    assert model.config.hints and model.down[0][0].weight.shape == start.down[0][0].weight.shape
    first, started = model.down[0][0].weight.detach(), start.down[0][0].weight.detach()
    moved = (first - started).norm() / started.norm()
    assert 0 < float(moved) < 0.1  # trained a little from the base's weights, not from a fresh initialisation
    assert torch.equal(start.down[0][0].weight, checkpoint.load_model(base)[0].down[0][0].weight)
