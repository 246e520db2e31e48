"""Retraining: rebuild the frame dataset incrementally from the ingested sources, fit, evaluate, register."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.utils import timezone

from portal.jobs import retraining
from portal.jobs.models import Cancelled, ColorModel, TrainingRun, TrainingSource
from portal.storage import store_then_save
from workers.files import local_path, model_checkpoint

CURVE_LIMIT = 5000  # points kept for the admin's curves
SAVE_EVERY_S = 2.0


class Throttle:
    """due() is True at most once every `seconds` (database writes from progress callbacks)."""

    def __init__(self, seconds: float = SAVE_EVERY_S, start_due: bool = True):
        self.seconds = seconds
        self.last = -float("inf") if start_due else time.monotonic()

    def due(self, force: bool = False) -> bool:
        now = time.monotonic()
        if force or now - self.last >= self.seconds:
            self.last = now
            return True
        return False


def training_dir() -> Path:
    path = Path(settings.WORK_DIR) / "training"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _fraction(info: dict, epochs: int) -> float | None:
    """training.train.fit reports "step" events within an epoch and an "epoch" event at its end."""
    if not epochs or not isinstance(info.get("epoch"), int | float):
        return None
    done = info["epoch"] if info.get("event") == "epoch" else info["epoch"] - 1
    return max(0.0, min(1.0, done / epochs))


def run_dir(run_pk: int) -> Path:
    """A run's working folder (checkpoints, CSV log, curves): fit writes it, the worker removes it."""
    return training_dir() / "runs" / f"run-{run_pk}"


def run(run: TrainingRun) -> None:
    """Build, fit, evaluate, register. The run's folder never outlives the run in this worker: when it ends
    (done, failed or cancelled) the row holds the curve, log and figures and storage holds the model file.
    Only a worker that is lost keeps it, so that requeue_stale's new attempt resumes from its last.pt."""
    try:
        _run(run)
    finally:
        shutil.rmtree(run_dir(run.pk), ignore_errors=True)


def _run(run: TrainingRun) -> None:
    from training import build_dataset, missing_requirements
    from training.train import fit

    if problem := missing_requirements():  # a worker installed with [web,ml] only: say so before any work
        raise ValueError(problem)

    base_model = run.start_from  # the model this run fine-tunes, or None
    base = model_checkpoint(base_model) if base_model is not None else None
    sources = list(TrainingSource.objects.order_by("created"))
    if not sources:
        raise ValueError("There are no training films or images yet: ingest some colour films first.")
    dataset_dir = training_dir() / "dataset"
    log_lines: list[str] = []

    def say(message: str) -> None:
        log_lines.append(f"{timezone.now():%H:%M:%S} {message}")
        # raises Cancelled
        TrainingRun.update_running(run.pk, attempt=run.attempts, log="\n".join(log_lines[-400:]))

    train_dir = dataset_dir if base is None else run_dir(run.pk) / "mix"  # a fine-tune learns from the mix
    cfg = _config(run, base, train_dir, say)
    build_options = _build_options(run)

    say(f"building the dataset from {len(sources)} source(s) into {dataset_dir}")
    with _local_sources(sources) as paths:
        manifest = build_dataset.build(paths, dataset_dir, on_progress=say, **build_options)
    _record_dataset(run, manifest)
    if base is not None:
        manifest = _mix(run, base, dataset_dir, train_dir, say)
    run.save(update_fields=["dataset"])
    problem = retraining.dataset_problem(manifest.get("splits") or {}, cfg.batch_size)
    if problem:
        raise ValueError(problem)

    run.log = "\n".join(log_lines)
    say(f"training {cfg.name}: {cfg.epochs} epoch(s), width {cfg.width}, loss {cfg.loss}")

    curve: list[dict] = []
    on_progress = _progress_saver(run, cfg.epochs, curve)

    checkpoint = Path(fit(cfg, on_progress=on_progress))
    say(f"trained: {checkpoint}")
    if base is not None:
        from training.finetune import keep_decoding

        keep_decoding(checkpoint, base, half=cfg.save_half)
    sets: dict = {}
    metrics = _evaluate(run, checkpoint, train_dir, curve, say, sets)
    baseline_model = base_model or ColorModel.objects.filter(is_default=True).first()
    baseline = _baseline(run, baseline_model, train_dir, metrics, say) if baseline_model is not None else {}
    say("registering the model")
    run.refresh_from_db(fields=["log"])
    _register(run, checkpoint, metrics, curve=curve[-CURVE_LIMIT:], sets=sets, baseline=baseline)


def _config(run: TrainingRun, base: Path | None, train_dir: Path, say):
    """The training config: the run's config file (a fine-tune: its base's) with the run's overrides."""
    from training.config import load

    overrides = {
        "dataset": str(train_dir),
        "out_dir": str(run_dir(run.pk).parent),
        "name": run_dir(run.pk).name,
    }
    overrides.update(run.overrides)
    if base is None:
        return load(run.config or None, [f"{k}={_as_text(v)}" for k, v in overrides.items()])
    from training.finetune import config_for

    cfg = config_for(base, {k: _as_text(v) for k, v in overrides.items()})
    say(
        f"fine-tuning {run.start_from.name}: its architecture, loss and hints, from its weights, lr {cfg.lr:g}"
    )
    return cfg


def _build_options(run: TrainingRun) -> dict:
    """The dataset build's options; the person filter (on unless turned off) needs its detector."""
    build_options = dict(run.build_options)
    if build_options.get("person_filter", True):
        problem = retraining.detector_problem()
        if problem:
            raise ValueError(f"{problem} Start the run again with the person filter off.")
        build_options.setdefault("detector", retraining.detector_path())
    return build_options


def _record_dataset(run: TrainingRun, manifest: dict) -> None:
    """What the run's page shows of the built dataset (the row is saved by the caller)."""
    run.dataset = {k: manifest.get(k) for k in ("counts", "splits", "created") if k in manifest}
    run.dataset["sources"] = len(manifest.get("sources", []))
    run.dataset["shards"] = len(manifest.get("shards", []))


def _progress_saver(run: TrainingRun, epochs: int, curve: list[dict]):
    """fit's progress callback: appends to `curve` and saves curve and progress at most every SAVE_EVERY_S."""
    throttle = Throttle()

    def on_progress(info: dict) -> None:  # fit calls it every 20 steps and after each epoch
        curve.append({k: v for k, v in info.items() if isinstance(v, int | float | str)})
        fraction = _fraction(info, epochs)
        if throttle.due(force=fraction == 1.0):
            update = {"curve": curve[-CURVE_LIMIT:]}
            if fraction is not None:
                update["progress"] = 0.05 + 0.9 * fraction
            # raises Cancelled: fit stops here
            TrainingRun.update_running(run.pk, attempt=run.attempts, **update)

    return on_progress


def _as_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


@contextmanager
def _local_sources(sources: list[TrainingSource]) -> Iterator[list[Path]]:
    """Local paths for every source (downloads from remote storage), closed together, also when opening a
    later one fails."""
    with ExitStack() as stack:
        yield [stack.enter_context(local_path(source.file)) for source in sources]


def replay_folder(base: Path) -> Path | None:
    """The frame dataset to replay: settings.REPLAY_DATASET, else the one `base` was trained on (its
    train_config's dataset, relative to the project) where the checkpoint names one."""
    if settings.REPLAY_DATASET:
        return Path(settings.REPLAY_DATASET)
    from colorization.checkpoint import load

    trained_on = (load(base).get("train_config") or {}).get("dataset")
    return Path(settings.BASE_DIR) / trained_on if trained_on else None


def _mix(run: TrainingRun, base: Path, dataset_dir: Path, out: Path, say) -> dict:
    """The new frames plus a sample of the base's training data (training.replay), or, when that data is not on
    this machine, the new frames alone, said plainly in the log and on the run's page."""
    from training.build_dataset import load_manifest
    from training.replay import mix

    folder = replay_folder(base)
    if folder is not None and load_manifest(folder) is not None:
        manifest = mix(dataset_dir, folder, out, seed=run.pk, on_progress=say)
        replayed = manifest["mix"]["replay"]["frames"]
        run.dataset["replay"] = f"{sum(replayed.values())} frames of {folder} ({_per_split(replayed)})"
    else:
        where = f"no frame dataset at {folder}" if folder is not None else "its checkpoint names no dataset"
        run.dataset["replay"] = (
            f"none: {where} (setting COLORARCHIVE_REPLAY_DATASET). The model learns from the new material "
            "alone and may forget some of what it knew; compare it with the default before promoting it."
        )
        manifest = mix(dataset_dir, None, out, on_progress=say)
    say(f"replay: {run.dataset['replay']}")
    run.dataset["splits"] = manifest["splits"]
    return manifest


def _per_split(frames: dict) -> str:
    return ", ".join(f"{n} {split}" for split, n in frames.items())


def _baseline(run: TrainingRun, model: ColorModel, dataset_dir: Path, metrics: dict, say) -> dict:
    """`model` (the default) scored on the candidate's sets: the held-out split it was tested on and the
    historical photographs, so the promotion page compares figures of one set. {} when it cannot be scored."""
    from colorization.zoo import headline_metrics
    from training.evaluate import evaluate
    from training.historical_eval import CHECKPOINT_KEY, checkpoint_figures, evaluate_folder

    throttle = Throttle(start_due=False)

    def heartbeat(done: int) -> None:
        if throttle.due():
            TrainingRun.update_running(run.pk, attempt=run.attempts)  # raises Cancelled

    out = {"model": model.pk, "name": model.name, "sets": {}, "figures": {}}
    try:
        path = model_checkpoint(model)
        if any(k.startswith("test_") for k in metrics):
            say(f"scoring {model.name} on the same test split")
            report = evaluate(
                path, dataset_dir, write_checkpoint=False, report_path=run_dir(run.pk) / "baseline.json",
                on_progress=heartbeat,
            )  # fmt: skip
            out["figures"].update(headline_metrics({"test": report}))
            out["sets"]["test"] = {"name": held_out_name(run), "images": report["images"]}
        folder = Path(settings.HISTORICAL_PHOTOS)
        if any(k.startswith("historical_") for k in metrics):
            say(f"scoring {model.name} on the historical photographs in {folder.name}")
            report = evaluate_folder(folder, model=str(path), on_progress=heartbeat)
            out["figures"].update(headline_metrics({CHECKPOINT_KEY: checkpoint_figures(report)}))
            out["sets"]["historical"] = {"name": folder.name, "images": report["photos"]}
    except Cancelled:
        raise
    except Exception as exc:  # the candidate is still a model; its page says it was not compared
        say(f"{model.name} not scored on the same sets: {type(exc).__name__}: {exc}")
        return {}
    return out


def held_out_name(run: TrainingRun) -> str:
    return f"run #{run.pk} held-out frames"


def _evaluate(
    run: TrainingRun, checkpoint: Path, dataset_dir: Path, curve: list[dict], say, sets: dict
) -> dict:
    """The last epoch's validation figures, plus training.evaluate's test-split report and the historical
    photographs' figures when they run (both are also written into the checkpoint); `sets` gets what each was
    measured on (name and image count)."""
    metrics = {}
    epochs = [p for p in curve if p.get("event") == "epoch"]
    if epochs:
        metrics.update(
            {
                k: epochs[-1][k]
                for k in ("val_loss", "val_mae", "val_pearson", "train_loss")
                if k in epochs[-1]
            }
        )
    from colorization.zoo import headline_metrics

    throttle = Throttle(start_due=False)

    def heartbeat(done: int) -> None:  # requeue_stale must not restart a run that is evaluating
        if throttle.due():
            TrainingRun.update_running(run.pk, attempt=run.attempts)  # raises Cancelled

    try:
        from training.evaluate import evaluate

        say("evaluating on the test split")
        report = evaluate(checkpoint, dataset_dir, on_progress=heartbeat)
        sets["test"] = {"name": held_out_name(run), "images": report["images"]}
        metrics = {
            **headline_metrics({"test": report}),
            **metrics,
        }  # as an inspected checkpoint's report reads
    except Cancelled:
        raise
    except Exception as exc:  # a model without a test report is still a model; say why there is none
        say(f"evaluation skipped: {type(exc).__name__}: {exc}")
    return {**_historical(checkpoint, heartbeat, say, sets), **metrics}


def _historical(checkpoint: Path, heartbeat, say, sets: dict) -> dict:
    """The acceptance test on the historical photographs (settings.HISTORICAL_PHOTOS), recorded in the
    checkpoint as `colorize-train eval-historical --record` does, as headline figures; {} when there are none."""
    from colorization.zoo import headline_metrics
    from training.build_dataset import IMAGE_SUFFIXES
    from training.historical_eval import CHECKPOINT_KEY, evaluate_folder, record_in_checkpoint

    folder = Path(settings.HISTORICAL_PHOTOS)
    if not folder.is_dir() or not any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir()):
        say(
            f"no historical figures: no photographs at {folder} (setting COLORARCHIVE_HISTORICAL_PHOTOS); "
            "measure them later with `colorize-train eval-historical FOLDER --model FILE --record`"
        )
        return {}
    try:
        say(f"scoring on the historical photographs in {folder.name}")
        report = evaluate_folder(folder, model=str(checkpoint), on_progress=heartbeat)
        figures = record_in_checkpoint(checkpoint, report)
        sets["historical"] = {"name": folder.name, "images": report["photos"]}
    except Cancelled:
        raise
    except Exception as exc:
        say(f"historical figures skipped: {type(exc).__name__}: {exc}")
        return {}
    return headline_metrics({CHECKPOINT_KEY: figures})


def _register(
    run: TrainingRun,
    checkpoint: Path,
    metrics: dict,
    curve: list[dict],
    sets: dict | None = None,
    baseline: dict | None = None,
) -> ColorModel:
    """The model row and the run's success commit together; a run cancelled meanwhile registers nothing.
    `sets`: what the figures were measured on; `baseline`: the default's figures on the same sets
    (portal.jobs.promotion compares with them)."""
    from colorization.checkpoint import summary

    name = run.name
    if ColorModel.objects.filter(name=name).exists():
        name = f"{run.name}-run{run.pk}"
    started = f" Fine-tuned from {run.start_from.name}." if run.start_from_id else ""
    model = ColorModel(
        name=name, description=f"Trained by training run #{run.pk}.{started}", training_run=run,
        metrics={**metrics, "sets": sets or {}, **({"baseline": baseline} if baseline else {})},
    )  # fmt: skip
    model.info = summary(checkpoint)

    def save() -> None:
        model.save()
        if not run.finish(curve=curve, metrics=metrics, result_model=model):
            raise Cancelled(f"training run {run.pk} is no longer running")

    with open(checkpoint, "rb") as f:  # no model file without its row
        store_then_save(model, {"checkpoint": (File(f), f"{name}.pt")}, save=save)
    return model
