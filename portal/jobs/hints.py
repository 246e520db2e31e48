"""Colour hints as the portal takes them: the check of what the editor (or the API) sends.

The format is the library's (colorization/hints.py, README "Colour hints"): ``{"points": [{"x": 0.42, "y":
0.31, "color": "#2f5a8a"}, ...]}``, x and y fractions of the picture from the top left, the colour sRGB hex.
The web process may import nothing of the library beyond `colorization.media` (tests/test_layering.py), so
this small check mirrors `colorization.hints.parse` here, with the same messages; the worker parses the stored
points with the library again before it uses them.
"""

from __future__ import annotations

import json
import re

MAX_POINTS = 200  # colorization.hints.MAX_POINTS
_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")


class HintsInvalid(ValueError):
    """What is wrong with the hints sent, in words for the person who placed them (names the point)."""


def _fraction(point: dict, key: str, where: str) -> float:
    value = point.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HintsInvalid(
            f"{where}: {key} must be a number from 0 to 1 (a fraction of the picture), not {value!r}"
        )
    if not 0.0 <= float(value) <= 1.0:
        raise HintsInvalid(f"{where}: {key} = {value} lies outside the picture (it must be from 0 to 1)")
    return float(value)


def _color(value: object, where: str) -> str:
    if not isinstance(value, str) or not _HEX.match(value.strip()):
        raise HintsInvalid(f"{where}: colour {value!r} is not an sRGB hex colour such as '#2f5a8a'")
    digits = value.strip().lstrip("#").lower()
    return "#" + ("".join(c * 2 for c in digits) if len(digits) == 3 else digits)


def check(data: object) -> list[dict]:
    """A hints document (decoded JSON, a JSON string, or the bare list of points) -> the points as
    ``[{"x", "y", "color"}]`` with the colour as "#rrggbb"; HintsInvalid names the point when one is wrong.
    Empty input means no hints."""
    if data is None or data == "":
        return []
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise HintsInvalid(f"Colour hints: not JSON ({exc.msg})") from None
    points = data.get("points") if isinstance(data, dict) else data
    if not isinstance(points, list):
        raise HintsInvalid(
            'Colour hints: expected {"points": [{"x": 0.4, "y": 0.3, "color": "#2f5a8a"}, ...]}'
        )
    if len(points) > MAX_POINTS:
        raise HintsInvalid(f"Colour hints: {len(points)} points; at most {MAX_POINTS} are taken")
    checked = []
    for i, point in enumerate(points, 1):
        where = f"Colour hint {i}"
        if not isinstance(point, dict):
            raise HintsInvalid(f"{where}: expected an object with x, y and color, not {point!r}")
        checked.append(
            {
                "x": _fraction(point, "x", where),
                "y": _fraction(point, "y", where),
                "color": _color(point.get("color"), where),
            }
        )
    return checked
