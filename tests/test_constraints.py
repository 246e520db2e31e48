"""constraints.txt (scripts/freeze_constraints.py) agrees with pyproject.toml: every requirement of the core and
of the extras the tests install has a pin there, and every pin satisfies pyproject's own version range."""

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PINS = {
    canonicalize_name(name): Version(version)
    for name, version in (
        line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line
    )
}
REQUIREMENTS = [
    Requirement(r)
    for r in PROJECT["dependencies"]
    + [r for extra in ("web", "ml", "train", "dev") for r in PROJECT["optional-dependencies"][extra]]
    if canonicalize_name(Requirement(r).name) != "colorarchive"
]


@pytest.mark.parametrize("req", REQUIREMENTS, ids=str)
def test_every_requirement_is_pinned_within_its_range(req):
    pin = PINS.get(canonicalize_name(req.name))
    assert pin is not None, f"{req.name} has no pin: run python scripts/freeze_constraints.py"
    assert req.specifier.contains(pin, prereleases=True), f"{req.name}=={pin} is outside {req.specifier}"
