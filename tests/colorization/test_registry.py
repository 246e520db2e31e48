"""The stage registry: duplicates and unknown names fail loudly; it registers what modules give it and imports no
stage itself, and `colorization.stages` looks stages up with the built-ins registered."""

import pytest

from colorization import registry, stages
from tests.support import run_python


def test_duplicate_registration_is_refused():
    registry.register("postprocess", "test-dup")(lambda: None)
    try:
        with pytest.raises(ValueError, match="registered twice"):
            registry.register("postprocess", "test-dup")(lambda: None)
    finally:
        registry._registry["postprocess"].pop("test-dup")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(KeyError, match="unknown colorize stage 'nope'.*unet"):
        stages.create("colorize", "nope")


def test_unknown_kind():
    with pytest.raises(KeyError, match="unknown stage kind"):
        registry.available("sharpen")
    with pytest.raises(KeyError, match="unknown stage kind"):
        registry.register("sharpen", "x")


def test_create_passes_parameters():
    stage = stages.create("postprocess", "saturation", factor=1.5)
    assert stage.factor == 1.5


def test_the_registry_imports_no_stage_and_the_stages_package_registers_the_built_ins():
    out = run_python(
        "from colorization import registry\n"
        "print(registry.available('temporal'), 'colorization.stages' in sys.modules)\n"
        "import colorization\n"
        "print(colorization.available('temporal'))"
    )
    alone, through_stages = out.splitlines()
    assert alone == "[] False"
    assert "'ema'" in through_stages and "'flow'" in through_stages
