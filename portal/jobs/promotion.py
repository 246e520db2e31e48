"""Promoting a model: its figures beside the current default's, which of them are worse, and a compare sheet of
catalogue photographs colorized by both."""

from __future__ import annotations

import math
from dataclasses import dataclass

from portal.catalog.models import Item
from portal.jobs.figures import SETS as SET_NAMES
from portal.jobs.figures import FigureName, describe, numbers, ordered
from portal.jobs.models import ColorizationRequest, ColorModel, Status

SHEET_PHOTOS = 4


@dataclass
class Figure:
    name: str
    candidate: float | None
    default: float | None
    verdict: str  # "better", "worse", "same" or "" (not judged, or one side missing)

    @property
    def about(self) -> FigureName:
        """Its label, unit and which way is better (portal/jobs/figures.py)."""
        return describe(self.name)


def _numbers(model: ColorModel | None) -> dict[str, float]:
    return numbers(model.metrics) if model is not None else {}


SETS = ("test", "historical")  # a figure's set is its name's prefix; "val_*" is each run's own validation


@dataclass
class Comparison:
    figures: list[Figure]
    sets: list[dict]  # per set prefix (and its name in words): what each model's figures were measured on
    judged: bool  # whether any figure could be judged (both measured on one set)


def _sets(model: ColorModel) -> dict[str, dict]:
    """What `model`'s figures were measured on: as a training run records it, else (an uploaded checkpoint) the
    historical photographs its file names."""
    sets = dict(model.metrics.get("sets") or {})
    recorded = (model.info.get("metrics") or {}).get("historical")
    if "historical" not in sets and isinstance(recorded, dict) and recorded.get("folder"):
        sets["historical"] = {"name": recorded["folder"], "images": recorded.get("photos")}
    return sets


def _baseline(candidate: ColorModel, default: ColorModel | None) -> dict | None:
    """The default's figures on the candidate's own sets, when its training run scored this default on them."""
    baseline = candidate.metrics.get("baseline")
    if default is not None and isinstance(baseline, dict) and baseline.get("model") == default.pk:
        return baseline
    return None


def compare_figures(candidate: ColorModel, default: ColorModel | None) -> Comparison:
    """Every figure either model stores, in the listings' headline order first; a figure is judged better or
    worse only where both models were measured on the same set (same name, same number of images)."""
    mine, my_sets = _numbers(candidate), _sets(candidate)
    baseline = _baseline(candidate, default)
    if baseline is not None:
        theirs = {k: v for k, v in baseline["figures"].items() if isinstance(v, int | float)}
        their_sets = baseline.get("sets") or {}
    else:
        theirs, their_sets = _numbers(default), _sets(default) if default is not None else {}
    same = {p for p in SETS if p in my_sets and my_sets[p] == their_sets.get(p)}
    figures = []
    for name in ordered(set(mine) | set(theirs), ColorModel.HEADLINE_METRICS):
        a, b, direction = mine.get(name), theirs.get(name), describe(name).better
        verdict = ""
        if a is not None and b is not None and direction and name.split("_")[0] in same:
            # within 0.1% (or 1e-4) is the same: another CPU's arithmetic moves the last digits, not the model
            same_value = math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-4)
            verdict = "same" if same_value else ("better" if (a - b) * direction > 0 else "worse")
        figures.append(Figure(name, a, b, verdict))
    sets = [
        {
            "prefix": p,
            "where": SET_NAMES[p],
            "candidate": my_sets.get(p),
            "default": their_sets.get(p),
            "same": p in same,
        }
        for p in SETS
        if p in my_sets or p in their_sets
    ]
    return Comparison(figures, sets, bool(same))


def takes_hints(model: ColorModel | None) -> bool | None:
    """Whether the model's network has colour-hint channels; None when its file has not been read."""
    if model is None or "model_args" not in model.info:
        return None
    return bool(model.info["model_args"].get("hints"))


def drops_hints(candidate: ColorModel, default: ColorModel | None) -> bool:
    """Promoting `candidate` would take hint support away: the default follows hints and it has none."""
    return takes_hints(default) is True and takes_hints(candidate) is False


def without_historical(
    candidate: ColorModel, default: ColorModel | None, figures: list[Figure]
) -> list[ColorModel]:
    """Those of the two models with no figure on the historical photographs among `figures` (compare_figures):
    neither their own (`eval-historical --record`) nor, for the default, those the candidate's run measured."""
    has = {
        side: any(f.name.startswith("historical_") and getattr(f, side) is not None for f in figures)
        for side in ("candidate", "default")
    }
    return [
        m for m, side in ((candidate, "candidate"), (default, "default")) if m is not None and not has[side]
    ]


def _done(model: ColorModel):
    return ColorizationRequest.objects.filter(
        model=model, status=Status.DONE, item__type=Item.Type.STILL_IMAGE
    )


def compare_sheet(candidate: ColorModel, default: ColorModel | None) -> list[dict]:
    """Up to SHEET_PHOTOS catalogue photographs with a result by both models (newest first)."""
    if default is None:
        return []
    theirs = {r.item_id: r for r in _done(default).order_by("created")}
    rows = []
    for mine in _done(candidate).filter(item_id__in=theirs).select_related("item").order_by("-created"):
        if all(row["item"].pk != mine.item_id for row in rows):
            rows.append({"item": mine.item, "candidate": mine, "default": theirs[mine.item_id]})
        if len(rows) == SHEET_PHOTOS:
            break
    return rows


def photos_to_compare(
    candidate: ColorModel, default: ColorModel | None
) -> list[tuple[Item, list[ColorModel]]]:
    """Recent catalogue photographs for the sheet, each with the models that still lack a result for it."""
    models = [m for m in (default, candidate) if m is not None]
    photos = Item.objects.filter(type=Item.Type.STILL_IMAGE, media_error="").exclude(preview="")
    out = []
    for item in photos.order_by("-created")[:SHEET_PHOTOS]:
        have = set(
            item.requests.filter(status__in=[Status.DONE, Status.PENDING, Status.RUNNING]).values_list(
                "model_id", flat=True
            )
        )
        missing = [m for m in models if m.pk not in have]
        if missing:
            out.append((item, missing))
    return out


def history(limit: int = 10) -> list:
    """The latest changes of the default model: each record where a model became the default, with who."""
    records = (
        ColorModel.history.filter(is_default=True).select_related("history_user").order_by("-history_date")
    )
    out = []
    for record in records[: limit * 4]:
        previous = record.prev_record
        if previous is None or not previous.is_default:
            out.append(record)
        if len(out) == limit:
            break
    return out
