"""Named pipeline specs (plain dicts). The portal stores a preset's *name* only.

    get("photo", model="default", format="jpeg", quality=92, batch_size=0)  # 0: auto
    get("film", smoothing="flow", ...)        # smoothing: any registered temporal stage

Unknown names or options fail loudly, listing what is known.
"""

from __future__ import annotations

from typing import Any

OPTIONS = {
    "model",
    "models_dir",
    "smoothing",
    "format",
    "quality",
    "batch_size",
    "device",
    "engine",
    "saturation",
    "strength",
    "max_side",
    "fps",
}


def _colorize(o: dict) -> dict:
    entry = {
        "name": "unet",
        "model": o.get("model") or "default",
        "batch_size": int(o.get("batch_size") or 0),
    }
    for key in ("models_dir", "device", "engine"):
        if o.get(key):
            entry[key] = str(o[key])
    if o.get("strength") not in (
        None,
        1,
        1.0,
    ):  # the network's colour, not what hints ask (colorization.hints)
        entry["strength"] = o["strength"]
    return entry


def _postprocess(o: dict) -> list:
    steps: list[Any] = []
    if o.get("saturation") not in (None, 1, 1.0):
        steps.append({"name": "saturation", "factor": float(o["saturation"])})
    steps.append({"name": "merge_luma"})
    return steps


def _preprocess(o: dict) -> list:
    return [{"name": "resize", "max_side": int(o["max_side"])}] if o.get("max_side") else []


def _photo(o: dict) -> dict:
    if o.get("smoothing") not in (None, "none"):
        raise ValueError("preset 'photo': smoothing applies to film only")
    if o.get("fps"):
        raise ValueError("preset 'photo': a frame rate applies to film only")
    return {
        "decode": "image",
        "preprocess": _preprocess(o),
        "colorize": _colorize(o),
        "postprocess": _postprocess(o),
        "encode": {"name": "image", "format": o.get("format"), "quality": int(o.get("quality") or 92)},
    }


def _film(o: dict) -> dict:
    from colorization import stages  # the built-in stages, registered

    smoothing = o.get("smoothing") or "flow"
    if smoothing not in stages.available("temporal"):  # the registered temporal stages are the choices
        raise ValueError(
            f"preset 'film': unknown smoothing {smoothing!r}; known: {stages.available('temporal')}"
        )
    encode: dict[str, Any] = {"name": "video"}
    if o.get("quality"):
        encode["quality"] = int(o["quality"])  # x264 CRF: lower is better, 18 is visually lossless
    if o.get("format"):  # the codec; by default the output's suffix decides (.mkv: FFV1, else H.264)
        codecs = {"mp4": "h264", "h264": "h264", "mkv": "ffv1", "ffv1": "ffv1"}
        if o["format"] not in codecs:
            raise ValueError(f"preset 'film': unknown format {o['format']!r}; known: {sorted(codecs)}")
        encode["codec"] = codecs[o["format"]]
    return {
        "decode": {"name": "video", "fps": o["fps"]} if o.get("fps") else "video",  # a folder of frames' rate
        "preprocess": _preprocess(o),
        "colorize": _colorize(o),
        "temporal": [{"name": smoothing}],  # "none" too: it still marks scene cuts
        "postprocess": _postprocess(o),
        "encode": encode,
    }


_PRESETS = {"photo": _photo, "film": _film}


def names() -> list[str]:
    return sorted(_PRESETS)


def get(name: str, **options: Any) -> dict:
    """The spec of preset `name` with `options` applied (None values mean "the preset's default")."""
    if name not in _PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {names()}")
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise TypeError(f"preset {name!r}: unknown option(s) {unknown}; known: {sorted(OPTIONS)}")
    return _PRESETS[name]({k: v for k, v in options.items() if v is not None})
