"""Colour hints as the portal takes them: what the editor (a JSON string) or the API (decoded JSON) sends,
checked by the library's own rule, `colorization.hints.parse` (README "Colour hints"); the worker parses the
stored points with it again before it uses them."""

from __future__ import annotations

import json

from colorization.hints import HintError, parse

SOURCE = (
    "Colour hints"  # how the messages name what was sent: "Colour hints, point 2: colour 'navy' is not ..."
)


def check(data: object) -> list[dict]:
    """A hints document (decoded JSON, a JSON string, or the bare list of points) -> the points as
    ``[{"x", "y", "color"}]`` (and "reach" when not the default) with the colour as "#rrggbb"; HintError names
    the point when one is wrong.
    Empty input means no hints. Photographs only, so a point's film frame is not kept."""
    if data is None or data == "":
        return []
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise HintError(f"{SOURCE}: not JSON ({exc.msg})") from None
        except RecursionError:
            raise HintError(f"{SOURCE}: not JSON (nested too deeply)") from None
    if isinstance(data, list):
        data = {"points": data}
    given = parse(data, SOURCE)
    # the editor places points; the command line takes strokes and strength too (README "Colour hints")
    if given.strokes or given.strength is not None:
        raise HintError(
            f"{SOURCE}: {'strokes are' if given.strokes else 'strength is'} not taken here yet, only points"
        )
    return [{k: v for k, v in h.to_dict().items() if k != "frame"} for h in given.points]
