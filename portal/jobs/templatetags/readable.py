"""`{{ value|readable }}`: a stored JSON value (a run's options, dataset summary, metrics) in words, never a
Python repr: {"train": 900, "val": 100} reads "train 900 · val 100"."""

from __future__ import annotations

from django import template
from django.template.defaultfilters import floatformat

register = template.Library()


@register.filter
def readable(value) -> str:
    if isinstance(value, dict):
        return " · ".join(f"{key} {readable(v)}" for key, v in value.items()) or "—"
    if isinstance(value, list | tuple):
        return ", ".join(readable(v) for v in value) or "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return floatformat(value, 4)
    return "—" if value is None or value == "" else str(value)
