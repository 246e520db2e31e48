"""Every bundled model has its card's plain sentence; a checkpoint's own sentence wins; others get the fallback."""

from __future__ import annotations

import pytest

from colorization import checkpoint, zoo
from colorization.model_cards import FALLBACK, PLAIN, plain_sentence
from colorization.models import UNet, UNetConfig

BUNDLED = sorted(zoo.BUNDLED_DIR.glob("*.pt"))


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_every_bundled_model_has_its_cards_sentence(path):
    info = checkpoint.summary(path)
    assert info["name"] in PLAIN, f"{info['name']} has no sentence in colorization/model_cards.py"
    assert info["card"] == PLAIN[info["name"]] != FALLBACK


def test_the_sentences_are_one_plain_sentence_each_saying_good_and_weak():
    for name, sentence in PLAIN.items():
        assert sentence.count(". ") == 0 and sentence.endswith("."), name  # one sentence
        assert "good at" in sentence.lower() and "weak at" in sentence.lower(), name
        assert "not historical fact" in sentence, name
    assert "water" in PLAIN["unet-v10"] and "skies blue" in PLAIN["unet-v10"]


def test_a_museum_model_gets_the_fallback_and_a_checkpoint_may_carry_its_own(tmp_path):
    model = UNet(UNetConfig(width=4))
    trained_here = checkpoint.save(tmp_path / "ours.pt", model, name="harbour-finetune")
    assert checkpoint.summary(trained_here)["card"] == FALLBACK
    own = checkpoint.save(
        tmp_path / "own.pt", model, name="unet-v10", card="  Good at  docks;\nweak at sky. "
    )
    assert checkpoint.summary(own)["card"] == "Good at docks; weak at sky."
    assert plain_sentence({"name": "unet-v12", "card": "  "}) == PLAIN["unet-v12"]
