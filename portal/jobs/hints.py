"""Colour hints as the portal takes them: what the editor (a JSON string) or the API (decoded JSON) sends,
checked by the library's own rule, `colorization.hints.parse` (README "Colour hints"), and kept with a request
as the same hints document (points, strokes and regions, each with its reach, and the colour strength; a film's
grouped by the frame each mark was placed on, the keyframes document of `colorization.hints.parse_keyframes`);
the worker parses the stored document with that rule again before it uses it."""

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


def check(data: object, film: bool = False) -> dict:
    """A hints document (decoded JSON, a JSON string, or the bare list of points) -> the document as a request
    keeps it: ``{"points": [...], "strokes": [...], "strength": s}`` as `Hints.to_dict` writes it (colours as
    "#rrggbb", "reach" only when not the default, "strokes" and "strength" only when given); HintError names the
    point or stroke when one is wrong. Empty input means no hints: ``{}``. A photograph's marks keep no film
    frame; a film's (`film`) are grouped by the frame they were placed on, as `keyframes` writes them."""
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
    if isinstance(data, dict) and "keyframes" in data and not film:
        raise HintError(f"{SOURCE}: keyframes are for films; a photograph's hints are one set of marks")
    given = parse(data, SOURCE)
    if not given and given.strength is None:
        return {}
    if film:
        return keyframes(given)
    photo = Hints(
        tuple(dataclasses.replace(p, frame=0) for p in given.points),
        tuple(dataclasses.replace(s, frame=0) for s in given.strokes),
        given.strength,
    )
    return photo.to_dict()


def keyframes(given: Hints) -> dict:
    """A film's hints as the keyframes document `colorization.hints.parse_keyframes` reads: ``{"keyframes":
    {"120": {"points": [...], "strokes": [...]}, ...}, "strength": s}``, frames in order, each mark without its
    frame (its keyframe says it)."""
    frames = sorted({mark.frame for mark in given})
    document: dict = {"keyframes": {}}
    for frame in frames:
        on = Hints(
            tuple(dataclasses.replace(p, frame=0) for p in given.points if p.frame == frame),
            tuple(dataclasses.replace(s, frame=0) for s in given.strokes if s.frame == frame),
        )
        document["keyframes"][str(frame)] = on.to_dict()
    if given.strength is not None:
        document["strength"] = given.strength
    return document


def on_frame(document: dict | None, frame: int) -> dict:
    """The marks a film's keyframes document holds for one frame, with the film's colour strength, as a
    photograph's hints document (what the editor's preview colorizes that frame with)."""
    document = document or {}
    marks = dict((document.get("keyframes") or {}).get(str(frame)) or {})
    if document.get("strength") is not None:
        marks["strength"] = document["strength"]
    return marks


def _documents(document: dict | None) -> list[dict]:
    """A photograph's hints document, or each keyframe's of a film's."""
    document = document or {}
    if "keyframes" in document:
        return list((document.get("keyframes") or {}).values())
    return [document]


def count(document: dict | None) -> int:
    """How many marks (points, strokes and regions) a checked hints document holds (a film's: on all frames)."""
    return sum(len(d.get("points") or []) + len(d.get("strokes") or []) for d in _documents(document))


def summary(document: dict | None) -> str:
    """What a request's hints are in words: "2 colour hints and 1 stroke, colour strength 1.2"; a film's add
    "on 2 frames"; "" for none."""
    document = document or {}
    text = _in_words(_mark_counts(_documents(document)))
    if "keyframes" in document and text:
        text += f" on {_plural(len(document['keyframes']), 'frame')}"
    if document.get("strength") is not None:
        text += f"{', ' if text else ''}colour strength {document['strength']:g}"
    return text


def _mark_counts(marks: list[dict]) -> dict[str, int]:
    """How many colour hints, open strokes and regions (closed strokes) the documents hold together."""
    points = sum(len(d.get("points") or []) for d in marks)
    strokes = sum(len(d.get("strokes") or []) for d in marks)
    regions = sum(1 for d in marks for s in d.get("strokes") or [] if s.get("closed"))
    return {"colour hint": points, "stroke": strokes - regions, "region": regions}


def _in_words(counts: dict[str, int]) -> str:
    """The counts that are not 0 listed in words: "2 colour hints, 1 stroke and 3 regions"."""
    parts = [_plural(n, name) for name, n in counts.items() if n]
    return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)


def _plural(n: int, name: str) -> str:
    return f"{n} {name}{'s' if n != 1 else ''}"


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
