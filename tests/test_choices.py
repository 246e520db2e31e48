"""Lists users choose from have one source: the library's registered stages (the portal's copy must say the same)."""

from __future__ import annotations

import pytest

from colorization import presets, stages


def test_portal_smoothing_choices_are_the_registered_temporal_stages():
    pytest.importorskip("django")
    import django

    django.setup()
    from portal.jobs.models import SMOOTHING_CHOICES

    assert sorted(SMOOTHING_CHOICES) == sorted(stages.choices("temporal"))


def test_a_stage_takes_the_options_its_factory_declares():
    assert stages.options("temporal", "ema") == ["alpha", "cut_threshold"]
    with pytest.raises(
        TypeError, match=r"temporal stage 'ema': unknown option\(s\) \['alpah'\]; known: \['alpha'"
    ):
        stages.create("temporal", "ema", alpah=0.5)
    for name in stages.available("temporal"):  # every registered smoothing is a film preset's choice
        assert presets.get("film", smoothing=name)["temporal"] == [{"name": name}]
    with pytest.raises(ValueError, match="unknown smoothing 'blur'"):
        presets.get("film", smoothing="blur")
