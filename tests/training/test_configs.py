"""The training configs in the tree run as they are: each loads, and the weights it starts from are in the tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.config import load

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "training" / "configs").glob("*.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_a_config_in_the_tree_loads_and_starts_from_weights_that_exist(path):
    cfg = load(path)
    if cfg.init_from:
        assert (REPO / cfg.init_from).is_file(), f"{path.name}: init_from {cfg.init_from} is not in the tree"


def test_an_unknown_loss_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown loss 'l3'; known: .*'bins'"):
        load(None, ["loss=l3"])
