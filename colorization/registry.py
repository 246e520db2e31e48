"""Registry of pipeline stages: the library's one real plugin point (STYLE.md section 8)."""

from __future__ import annotations

from collections.abc import Callable

KINDS = ("decode", "preprocess", "colorize", "temporal", "postprocess", "encode")
_registry: dict[str, dict[str, Callable]] = {kind: {} for kind in KINDS}


def _check_kind(kind: str) -> None:
    import colorization.stages  # noqa: F401  (the built-in stages register themselves on import)

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
    _check_kind(kind)
    if name not in _registry[kind]:
        raise KeyError(f"unknown {kind} stage {name!r}; known: {available(kind)}")
    return _registry[kind][name](**params)


def available(kind: str) -> list[str]:
    _check_kind(kind)
    return sorted(_registry[kind])
