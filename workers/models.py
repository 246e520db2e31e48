"""Colorization models registered in the portal: where their checkpoint is, and what it says about itself."""

from __future__ import annotations

from pathlib import Path

from portal.jobs.models import ColorModel
from workers.files import cached_copy


def checkpoint_path(model: ColorModel) -> Path:
    if model.checkpoint:
        return cached_copy(model.checkpoint, f"model-{model.pk}-{Path(model.checkpoint.name).name}")
    from colorization import zoo

    return Path(zoo.resolve_model(model.zoo_name or "default"))


def describe(path: Path) -> dict:
    """What a checkpoint says about itself (no weights kept in memory)."""
    from colorization import checkpoint
    from colorization.models import count_parameters, create_model

    ckpt = checkpoint.load(path)
    params = count_parameters(create_model(ckpt["arch"], **ckpt["model_args"]))
    keep = ("name", "version", "created", "arch", "model_args", "data_cfg", "step", "metrics")
    info = {k: ckpt[k] for k in keep if k in ckpt}
    info["parameters"] = params
    info["file"] = path.name
    return info


def inspect(model_id: int) -> None:
    """Fill ColorModel.info from its checkpoint, or record why the file is unusable."""
    from colorization.checkpoint import CheckpointError

    model = ColorModel.objects.filter(pk=model_id).first()
    if model is None:
        return
    promote = bool(model.info.get("promote_when_inspected"))
    try:
        model.info = describe(checkpoint_path(model))
        if not model.metrics and isinstance(model.info.get("metrics"), dict):
            from colorization.zoo import headline_metrics

            model.metrics = headline_metrics(model.info["metrics"])
    except (CheckpointError, FileNotFoundError, OSError) as exc:
        model.info = {"error": str(exc).splitlines()[0]}
        promote = False  # a file that cannot be read never becomes the default
    model.save(update_fields=["info", "metrics"])
    if promote:
        model.promote()
