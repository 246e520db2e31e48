"""`python -m workers.modelinfo [NAME]`: which checkpoint a zoo name resolves to, as one JSON line;
`python -m workers.modelinfo --all`: that for the default, plus every installed model (user directory, then
bundled), as one JSON object {"default": ..., "installed": [...]}.

Run as a subprocess by `manage.py demo`, so the web-side command learns whether a model is installed
without importing the colorization library (and torch) itself.
"""

from __future__ import annotations

import json
import sys


def resolve(name: str = "default") -> dict:
    from colorization import zoo
    from colorization.checkpoint import CheckpointError

    try:
        path = zoo.resolve_model(name)
    except CheckpointError as exc:
        return {"error": str(exc)}
    info = zoo.describe(path)
    return {"path": str(path), "name": info.name, "version": info.version, "error": info.error}


def installed() -> list[dict]:
    """Every readable installed model; the default one has "default": true."""
    from colorization import zoo

    return [
        {"path": str(m.path), "name": m.name, "version": m.version, "default": m.default}
        for m in zoo.list_models()
        if not m.error
    ]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--all"]:
        print(json.dumps({"default": resolve("default"), "installed": installed()}))
    else:
        print(json.dumps(resolve(args[0] if args else "default")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
