"""The portal stores preset names; the library must know every one of them (worker-side import allowed)."""

from colorization import presets
from portal.jobs.models import PRESET_CHOICES, SMOOTHING_CHOICES


def test_portal_preset_choices_are_library_presets():
    assert {name for name, _ in PRESET_CHOICES} <= set(presets.names())


def test_portal_smoothing_choices_build_film_specs():
    for name, _ in SMOOTHING_CHOICES:
        spec = presets.get("film", smoothing=name)
        assert spec["temporal"][0]["name"] == name
