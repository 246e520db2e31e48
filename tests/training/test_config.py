"""TrainConfig: TOML + overrides, typed, unknown keys rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.config import TrainConfig, load

CONFIGS = Path(__file__).resolve().parents[2] / "training" / "configs"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_configs_load_and_start_from_weights_in_the_tree(path):
    """The configs in the tree run as they are (the history of earlier stages is in MODEL_CARD.md and git): each
    starts from weights in the tree or from what another config in the tree trains (a staged run's stage)."""
    cfg = load(path)
    assert isinstance(cfg, TrainConfig) and cfg.batch_size == 16
    stages = {
        f"{c.out_dir}/{c.name}/best.pt" for c in map(load, CONFIGS.glob("*.toml")) if c.name != cfg.name
    }
    if cfg.init_from:
        in_tree = (CONFIGS.parents[1] / cfg.init_from).is_file()
        assert in_tree or cfg.init_from in stages, (
            f"init_from {cfg.init_from} is neither in the tree nor a stage's"
        )


def test_overrides_are_converted_to_the_field_type(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('loss = "mse"\nepochs = 3\n')
    cfg = load(path, ["lr=3e-4", "epochs=5", "flip=false", "temperature_candidates=0.3,0.5"])
    assert cfg.lr == 3e-4 and cfg.epochs == 5 and cfg.flip is False
    assert cfg.temperature_candidates == [0.3, 0.5]


def test_unknown_keys_and_bad_values_are_rejected(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("learning_rate = 0.1\n")
    with pytest.raises(ValueError, match="unknown config key"):
        load(path)
    with pytest.raises(ValueError, match="epochs"):
        load(None, ["epochs=many"])
    with pytest.raises(ValueError, match="unknown loss 'l2'; known: .*'bins'"):
        load(None, ["loss=l2"])
    with pytest.raises(ValueError, match="needs head"):
        load(None, ["loss=bins"])
    with pytest.raises(ValueError, match="does not exist"):
        load(tmp_path / "absent.toml")


def test_the_older_name_of_decoding_tuning_still_reads(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text("tune_temperature = false\n")
    assert load(path).tune_decoding is False
