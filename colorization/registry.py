"""Registry of pipeline stages: the library's one real plugin point.

The registry knows no stage itself: modules register theirs on import. `colorization.stages` imports the built-in
ones and offers these same functions, so look a stage up there (`from colorization import stages`;
`stages.create(...)`) to find the built-ins registered.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

KINDS = ("decode", "preprocess", "colorize", "temporal", "postprocess", "encode")
_registry: dict[str, dict[str, Callable]] = {kind: {} for kind in KINDS}


def _check_kind(kind: str) -> None:
    if kind not in _registry:
        raise KeyError(f"unknown stage kind {kind!r}; known: {list(KINDS)}")


def register(kind: str, name: str) -> Callable:
    _check_kind(kind)

    def deco(factory: Callable) -> Callable:
        if name in _registry[kind]:
            raise ValueError(f"{kind} stage {name!r} registered twice")
        _registry[kind][name] = factory
        return factory

    return deco


def create(kind: str, name: str, **params):
    """Build a registered stage; an option its factory does not take fails here, naming the ones it does."""
    factory = _factory(kind, name)
    unknown = sorted(set(params) - set(options(kind, name)))
    if unknown:
        raise TypeError(f"{kind} stage {name!r}: unknown option(s) {unknown}; known: {options(kind, name)}")
    return factory(**params)


def _factory(kind: str, name: str) -> Callable:
    _check_kind(kind)
    if name not in _registry[kind]:
        raise KeyError(f"unknown {kind} stage {name!r}; known: {available(kind)}")
    return _registry[kind][name]


def available(kind: str) -> list[str]:
    _check_kind(kind)
    return sorted(_registry[kind])


def options(kind: str, name: str) -> list[str]:
    """The options a registered stage takes: its factory's keyword parameters (the one place they are listed)."""
    factory = _factory(kind, name)
    params = inspect.signature(factory).parameters.values()
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def label(kind: str, name: str) -> str:
    """What a stage is called for people: its `label`, else the first line of its docstring, else its name."""
    factory = _factory(kind, name)
    text = getattr(factory, "label", None) or (inspect.getdoc(factory) or "").split("\n")[0]
    return text or name


def choices(kind: str) -> list[tuple[str, str]]:
    """(name, label) of every registered stage of a kind, in registration order: what a menu offers."""
    _check_kind(kind)
    return [(name, label(kind, name)) for name in _registry[kind]]
