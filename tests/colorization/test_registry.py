"""The stage registry: duplicates and unknown names fail loudly."""

import pytest

from colorization import registry


def test_duplicate_registration_is_refused():
    registry.register("postprocess", "test-dup")(lambda: None)
    try:
        with pytest.raises(ValueError, match="registered twice"):
            registry.register("postprocess", "test-dup")(lambda: None)
    finally:
        registry._registry["postprocess"].pop("test-dup")


def test_unknown_name_lists_the_known_ones():
    import colorization.stages  # noqa: F401

    with pytest.raises(KeyError, match="unknown colorize stage 'nope'.*unet"):
        registry.create("colorize", "nope")


def test_unknown_kind():
    with pytest.raises(KeyError, match="unknown stage kind"):
        registry.available("sharpen")
    with pytest.raises(KeyError, match="unknown stage kind"):
        registry.register("sharpen", "x")


def test_create_passes_parameters():
    import colorization.stages  # noqa: F401

    stage = registry.create("postprocess", "saturation", factor=1.5)
    assert stage.factor == 1.5
