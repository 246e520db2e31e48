"""Where models live and how a name becomes a checkpoint path (nothing is ever downloaded).

- bundled: `colorization/weights/*.pt` (package data); `colorization/weights/DEFAULT` holds the default's file name;
- the user's models directory: `--models-dir`, else `$COLORARCHIVE_MODELS`, else
  `$XDG_DATA_HOME/colorarchive/models` (`~/.local/share/colorarchive/models`); a `DEFAULT` file there wins;
- any path to a `.pt` file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colorization.checkpoint import CheckpointError

# the models shipped in the package; COLORARCHIVE_BUNDLED_MODELS points elsewhere (a slim image with the weights on
# a volume, or an empty folder for an installation without them)
BUNDLED_DIR = Path(
    os.environ.get("COLORARCHIVE_BUNDLED_MODELS") or Path(__file__).resolve().parent / "weights"
)


@dataclass
class ModelInfo:
    name: str
    path: Path
    source: str  # "bundled" | "user" | "path"
    version: str = ""
    default: bool = False
    created: str = ""
    params: int = 0
    data_cfg: dict = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # set when the file is not a readable checkpoint
    takes_hints: bool = False  # the model has colour-hint channels (UNetConfig.hints)


def models_dir(override: str | os.PathLike | None = None) -> Path:
    """The user's models directory (it need not exist)."""
    if override:
        return Path(override).expanduser()
    if os.environ.get("COLORARCHIVE_MODELS"):
        return Path(os.environ["COLORARCHIVE_MODELS"]).expanduser()
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "colorarchive" / "models"


def _dirs(override: str | os.PathLike | None) -> list[tuple[str, Path]]:
    return [("user", models_dir(override)), ("bundled", BUNDLED_DIR)]


def _default_file(override: str | os.PathLike | None) -> Path | None:
    """The default model: the user's DEFAULT file, else the bundled one; None when neither names a file."""
    for _, folder in _dirs(override):
        marker = folder / "DEFAULT"
        if marker.is_file():
            name = marker.read_text(encoding="utf-8").strip()
            if name and (folder / name).is_file():
                return (folder / name).resolve()
    return None


def _files(override: str | os.PathLike | None) -> list[tuple[str, Path]]:
    seen: set[Path] = set()
    found = []
    for source, folder in _dirs(override):
        if folder.is_dir():
            for path in sorted(folder.glob("*.pt")):
                if path.resolve() not in seen:
                    seen.add(path.resolve())
                    found.append((source, path))
    return found


HEADLINE = ("psnr", "ab_pearson", "ssim", "mae", "colourfulness", "colourfulness_ratio", "acc_eps")


def headline_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """A checkpoint's metrics as flat figures for listings: plain numbers as they are; an evaluation report
    (`colorize-train eval` stores one per dataset and split, e.g. under "frames:test";
    `colorize-train eval-historical --record` one under "historical") as its split's PSNR, within-image ab
    Pearson, SSIM, MAE, colourfulness (and its share of the true photos'), accuracy within 2%, then the gray
    baseline's PSNR ("test_psnr", "historical_colourfulness_ratio", "test_gray_psnr")."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = value
        elif isinstance(value, dict) and isinstance(value.get("model_metrics"), dict):
            split = str(value.get("split") or key.rsplit(":", 1)[-1])
            model, gray = value["model_metrics"], value.get("grayscale_metrics") or {}
            out.update({f"{split}_{k}": model[k] for k in HEADLINE if isinstance(model.get(k), int | float)})
            if isinstance(gray.get("psnr"), int | float):
                out[f"{split}_gray_psnr"] = gray["psnr"]
    return out


def describe(path: str | os.PathLike, source: str = "path", default: bool = False) -> ModelInfo:
    """Read a checkpoint's metadata (weights_only load; a broken file gives a ModelInfo with `error`)."""
    from colorization import checkpoint

    path = Path(path)
    try:
        ckpt = checkpoint.load(path)
    except CheckpointError as exc:
        return ModelInfo(name=path.stem, path=path, source=source, default=default, error=str(exc))
    params = sum(v.numel() for v in ckpt["state_dict"].values())
    return ModelInfo(
        name=str(ckpt.get("name") or path.stem),
        path=path,
        source=source,
        version=str(ckpt.get("version", "")),
        default=default,
        created=str(ckpt.get("created", "")),
        params=int(params),
        data_cfg=dict(ckpt.get("data_cfg") or {}),
        metrics=dict(ckpt.get("metrics") or {}),
        takes_hints=bool((ckpt.get("model_args") or {}).get("hints")),
    )


def list_models(models_dir_override: str | os.PathLike | None = None) -> list[ModelInfo]:
    """Every installed model (user directory first, then bundled), the default one marked."""
    default = _default_file(models_dir_override)
    return [
        describe(p, source, default=(default is not None and p.resolve() == default))
        for source, p in _files(models_dir_override)
    ]


def resolve_model(
    name_or_path: str | os.PathLike | None = "default", models_dir_override: str | os.PathLike | None = None
) -> Path:
    """ "default", a model name (file stem or the name stored in the checkpoint) or a path -> a checkpoint path."""
    key = str(name_or_path or "default")
    as_path = Path(key).expanduser()
    if as_path.is_file():
        return as_path
    if key == "default":
        default = _default_file(models_dir_override)
        if default is not None:
            return default
        files = _files(models_dir_override)
        if len(files) == 1:  # one model installed: it is the default
            return files[0][1]
        where = f"{models_dir(models_dir_override)} or {BUNDLED_DIR}"
        if not files:
            raise CheckpointError(
                f"no colorization model is installed: put a checkpoint (.pt) in {where} "
                "(train one with `colorize-train fit`), or pass --model PATH"
            )
        raise CheckpointError(
            f"{len(files)} models are installed but none is the default: write the file name of one into "
            f"{models_dir(models_dir_override) / 'DEFAULT'}, or pass --model NAME "
            f"(installed: {', '.join(p.stem for _, p in files)})"
        )
    if as_path.suffix == ".pt" or os.sep in key:
        raise CheckpointError(f"model checkpoint {as_path} does not exist")
    files = _files(models_dir_override)
    for _, path in files:
        if path.stem == key:
            return path
    for info in (describe(path) for _, path in files):
        if info.error is None and info.name == key:
            return info.path
    known = ", ".join(sorted({p.stem for _, p in files})) or "none installed"
    raise CheckpointError(
        f"unknown model {key!r} (installed: {known}); models are looked up in "
        f"{models_dir(models_dir_override)} and {BUNDLED_DIR}, or pass a path to a .pt file"
    )
