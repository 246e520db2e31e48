"""Colour hints as the portal takes them: what the editor (a JSON string) or the API (decoded JSON) sends,
checked by the library's own rule, `colorization.hints.parse` (README "Colour hints"), and kept with a request
as the same hints document (points, strokes and regions, each with its reach, and the colour strength); the
worker parses the stored document with that rule again before it uses it."""

from __future__ import annotations

import dataclasses
import json

from colorization.hints import (
    DEFAULT_REACH,
    MAX_POINTS,
    MAX_STROKES,
    MAX_VERTICES,
    REACH,
    STRENGTH_RANGE,
    HintError,
    Hints,
    parse,
)

SOURCE = (
    "Colour hints"  # how the messages name what was sent: "Colour hints, point 2: colour 'navy' is not ..."
)


def check(data: object) -> dict:
    """A hints document (decoded JSON, a JSON string, or the bare list of points) -> the document as a request
    keeps it: ``{"points": [...], "strokes": [...], "strength": s}`` as `Hints.to_dict` writes it (colours as
    "#rrggbb", "reach" only when not the default, "strokes" and "strength" only when given); HintError names the
    point or stroke when one is wrong. Empty input means no hints: ``{}``. Photographs only, so a mark's film
    frame is not kept."""
    if data is None or data == "":
        return {}
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
    if not given and given.strength is None:
        return {}
    photo = Hints(
        tuple(dataclasses.replace(p, frame=0) for p in given.points),
        tuple(dataclasses.replace(s, frame=0) for s in given.strokes),
        given.strength,
    )
    return photo.to_dict()


def count(document: dict | None) -> int:
    """How many marks (points, strokes and regions) a checked hints document holds."""
    document = document or {}
    return len(document.get("points") or []) + len(document.get("strokes") or [])


def summary(document: dict | None) -> str:
    """What a request's hints are in words: "2 colour hints and 1 stroke, colour strength 1.2"; "" for none."""
    document = document or {}
    points, strokes = len(document.get("points") or []), len(document.get("strokes") or [])
    regions = sum(1 for s in document.get("strokes") or [] if s.get("closed"))
    parts = []
    if points:
        parts.append(f"{points} colour hint{'s' if points != 1 else ''}")
    if strokes - regions:
        parts.append(f"{strokes - regions} stroke{'s' if strokes - regions != 1 else ''}")
    if regions:
        parts.append(f"{regions} region{'s' if regions != 1 else ''}")
    text = " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)
    if document.get("strength") is not None:
        text += f"{', ' if text else ''}colour strength {document['strength']:g}"
    return text


def editor_settings() -> str:
    """What the editor (static/js/hints.js) needs of the library's rules, as JSON for a data attribute: the
    reaches in order and the default, the limits, the colour strength's range."""
    return json.dumps(
        {
            "reaches": list(REACH),
            "defaultReach": DEFAULT_REACH,
            "maxPoints": MAX_POINTS,
            "maxStrokes": MAX_STROKES,
            "maxVertices": MAX_VERTICES,
            "strength": list(STRENGTH_RANGE),
        }
    )


REFUSED_KEY = "refused-hints-%d"  # the session key of an item's refused hints
REFUSED_MAX = 256 * 1024  # characters of JSON kept; more are dropped (the form refused them anyway)


def keep_refused(request, item_pk: int, sent: str) -> None:
    """The hints of a refused colorize form, kept in the session (not in the redirect's address, which a long
    list of marks would take past the proxy's header buffer) for the item page to show once."""
    if len(sent) <= REFUSED_MAX:
        request.session[REFUSED_KEY % item_pk] = sent


def take_refused(request, item_pk: int) -> str:
    """The refused hints kept for the item page (once), or ""."""
    return request.session.pop(REFUSED_KEY % item_pk, "")
