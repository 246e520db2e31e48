"""fit(cfg) -> best checkpoint path: a linear, readable training loop (nanoGPT style).

Per epoch: train on random crops, validate on whole 224 frames, append a row to metrics.csv, redraw
curves.png, save `last.pt` (model + optimizer + history: `resume = true` continues from it) and, when the
validation loss improves, `best.pt`. Early stopping after `patience` epochs without improvement. The
torch seed is reset to seed + epoch at the start of every epoch, so a resumed run follows the same path as
an uninterrupted one. The loop never asks which loss it runs: the loss (`training.losses.Loss`) brings its own
parts (the adversarial loss its discriminator's step; the bins loss its class weights, its pixel stride and, at the
end, the decoding tuned on the validation split and stored in the best checkpoint's model_args).
"""

from __future__ import annotations

import csv
import math
import os
import platform
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from colorization import checkpoint
from colorization.color import AB_SCALE
from colorization.models import UNet, UNetConfig, count_parameters
from training.config import TrainConfig, validate
from training.data import FrameDataset, HintSampling
from training.losses import LOSSES, Loss, within_image_pearson

CSV_FIELDS = [
    "epoch",
    "train_loss",
    "train_mae",
    "val_loss",
    "val_mae",
    "val_pearson",
    "val_hint_pearson",
    "lr",
    "seconds",
    "images_per_s",
]


def _device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


def _lr_at(cfg: TrainConfig, step: int, total: int) -> float:
    if cfg.schedule == "constant":
        return cfg.lr
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress)))  # cosine down to 5% of lr


PIXEL_PATHS = (
    "prior.",
    "texture.",
    "hint_spread.",
)  # the U-Net's per-pixel networks (zero-initialised, added to the logits)


def init_weights(model: UNet, path: str | Path) -> None:
    """Start from another checkpoint's weights. Layers the new model adds (global context, prior, texture) keep
    their own initialisation, and input channels it adds (position, then hint channels: they come after the
    older ones) get zero weights in the first convolution, so the new model starts exactly where the old one
    was; any other difference is an error."""
    state = {k: v.float() for k, v in checkpoint.load(path)["state_dict"].items()}
    first = "down.0.0.weight"  # the plain U-Net's first convolution
    mine = model.state_dict().get(first)
    theirs = state.get(first)
    if (
        mine is not None
        and theirs is not None
        and theirs.shape[1] < mine.shape[1]
        and theirs.shape[0] == mine.shape[0]
    ):
        extra = theirs.new_zeros(mine.shape[0], mine.shape[1] - theirs.shape[1], *mine.shape[2:])
        state[first] = torch.cat([theirs, extra], 1)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shapes differ (another width or head)
        detail = next((line.strip() for line in str(exc).splitlines() if "size mismatch" in line), str(exc))
        raise ValueError(f"init_from {path}: its weights do not fit this model ({detail})") from None
    foreign = [k for k in missing if not k.startswith(("context.", *PIXEL_PATHS))] + list(unexpected)
    if foreign:
        raise ValueError(
            f"init_from {path}: its weights do not fit this model ({', '.join(foreign[:4])} ...)"
        )


def _param_groups(model: UNet, pixel_paths_lr_mult: float, encoder_lr_mult: float = 1.0) -> list[dict]:
    """The U-Net's parameters, with the per-pixel paths (prior, texture) in a group of their own whose learning
    rate is `pixel_paths_lr_mult` times the schedule's: small networks, zero-initialised, that a U-Net's learning
    rate moves too slowly. A pretrained encoder's parameters learn at `encoder_lr_mult` times the schedule's, and
    at 0 they are frozen (no gradient: the backward pass stops at the decoder). At 1x, one group in the model's
    own order (as optimizer states saved before)."""
    pretrained = {id(p) for p in model.pretrained_parameters()}
    if encoder_lr_mult == 0:
        for p in model.pretrained_parameters():
            p.requires_grad_(False)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    mults = {"pixel": pixel_paths_lr_mult, "encoder": encoder_lr_mult, "rest": 1.0}

    def kind(name: str, p: nn.Parameter) -> str:
        return "pixel" if name.startswith(PIXEL_PATHS) else "encoder" if id(p) in pretrained else "rest"

    by_rate: dict[float, list[nn.Parameter]] = {}  # one group per rate, the model's own rate first
    for k in ("rest", "pixel", "encoder"):
        by_rate.setdefault(mults[k], []).extend(p for n, p in named if kind(n, p) == k)
    if set(by_rate) == {1.0}:
        return [{"params": [p for _, p in named], "lr_mult": 1.0}]
    return [{"params": params, "lr_mult": mult} for mult, params in by_rate.items() if params]


def write_curves(history: list[dict], run_dir: Path) -> None:
    with open(run_dir / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        for row in history:
            w.writerow({k: row.get(k) for k in CSV_FIELDS})
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key, title in ((axes[0], "loss", "loss"), (axes[1], "mae", "MAE on ab (Lab units)")):
        ax.plot(epochs, [r[f"train_{key}"] for r in history], "o-", label="train")
        ax.plot(epochs, [r[f"val_{key}"] for r in history], "o-", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(run_dir / "curves.png", dpi=90)
    plt.close(fig)


@torch.no_grad()
def validate_epoch(model, criterion, ds, cfg, device, autocast) -> dict[str, float]:
    """Over whole frames (batched by size): validation loss, MAE (Lab units) and within-image ab Pearson (the
    product's criterion) with no hints; for a model that takes hints, also the Pearson with hints drawn from
    the truth."""
    model.eval()
    loader = DataLoader(ds, batch_sampler=ds.batches_by_size(cfg.batch_size), num_workers=0)
    tot = {"loss": 0.0, "mae": 0.0, "pearson": 0.0, "hint_pearson": 0.0}
    n = n_corr = 0
    s = model.config.head_stride  # as inference decodes: on the head's grid
    for batch in loader:
        L, ab = batch[0].to(device), batch[1].to(device)
        with autocast():
            logits = model.logits(L, stride=s)
            L, ab = L[..., ::s, ::s], ab[..., ::s, ::s]
            pred = model.decode(logits)
            loss = criterion(logits, pred, L, ab)
        tot["loss"] += float(loss) * len(L)
        tot["mae"] += float((pred.float() - ab).abs().mean()) * AB_SCALE * len(L)
        corr, counts = within_image_pearson(pred, ab, L)
        tot["pearson"] += float((corr * counts).sum())  # a flat channel counts 0, as in the metric
        if ds.hints is not None:
            with autocast():
                hinted = model.decode(model.logits(batch[0].to(device), stride=s, hints=batch[2].to(device)))
            corr_h, counts_h = within_image_pearson(hinted, ab, L)
            tot["hint_pearson"] += float((corr_h * counts_h).sum())
        n_corr += corr.numel()
        n += len(L)
    model.train()
    out = {"val_loss": tot["loss"] / max(n, 1), "val_mae": tot["mae"] / max(n, 1)}
    out["val_pearson"] = tot["pearson"] / max(n_corr, 1)
    if ds.hints is not None:
        out["val_hint_pearson"] = tot["hint_pearson"] / max(n_corr, 1)
    return out


def hint_sampling(cfg: TrainConfig) -> HintSampling | None:
    if not cfg.hints:
        return None
    return HintSampling(none_p=cfg.hint_none_p, mean=cfg.hint_mean, max_points=cfg.hint_max_points)


@dataclass
class Processes:
    """Where this process stands among the training processes: one per device under torchrun
    (DistributedDataParallel), or just this one."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0  # the one that validates and writes logs, curves and checkpoints

    def reporter(
        self, on_progress: Callable[[dict[str, Any]], None] | None
    ) -> Callable[[dict[str, Any]], None]:
        """on_progress in the main process; the others stay silent."""
        return (on_progress or (lambda info: None)) if self.main else (lambda info: None)


def start_processes(cfg: TrainConfig) -> tuple[Processes, torch.device]:
    """Join the process group torchrun set up (WORLD_SIZE > 1): NCCL between GPUs, gloo between CPU
    processes; a plain run stays a single process. A run that cannot be split among them is refused."""
    device = _device(cfg)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} must divide among the {world} processes")
    if world > 1 and LOSSES[cfg.loss].single_process:
        raise ValueError(f"the {cfg.loss} loss trains in one process ({LOSSES[cfg.loss].single_process})")
    if world == 1:
        return Processes(), device
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Processes(dist.get_rank(), dist.get_world_size(), local), device


def epoch_order(n: int, count: int, seed: int, weights: torch.Tensor | None = None) -> list[int]:
    """The frames one epoch trains on, in order, the same in every process: a seeded permutation, or `count`
    draws by `weights` (with replacement). Process r of w takes order[r::w] (DistributedSampler's split, for
    weighted draws too), so its i-th batch and the others' make up the single-process run's i-th batch."""
    gen = torch.Generator().manual_seed(seed)
    if weights is None:
        return torch.randperm(n, generator=gen)[:count].tolist()
    return torch.multinomial(weights, count, replacement=True, generator=gen).tolist()


class NetworkLogits(nn.Module):
    """model.logits as a forward pass: DistributedDataParallel averages gradients only across forward()."""

    def __init__(self, model: UNet):
        super().__init__()
        self.model = model

    def forward(self, L, box=None, stride: int = 1, hints=None) -> torch.Tensor:
        return self.model.logits(L, box, stride=stride, hints=hints)


def build_model(cfg: TrainConfig) -> UNet:
    """The model a config describes: every UNetConfig field that the config has a key of the same name for (a
    new model option is its UNetConfig field plus that key), then the init_from weights."""
    model = UNet(
        UNetConfig(**{f.name: getattr(cfg, f.name) for f in fields(UNetConfig) if hasattr(cfg, f.name)})
    )
    if cfg.init_from:
        init_weights(model, cfg.init_from)
    elif cfg.encoder != "plain" and not cfg.random_encoder:
        from colorization.models.encoders import load_pretrained_encoder

        try:
            load_pretrained_encoder(model.encoder, cfg.encoder, cfg.encoder_weights)
        except FileNotFoundError as exc:
            raise ValueError(str(exc)) from None
    return model


def load_splits(cfg: TrainConfig) -> tuple[FrameDataset, FrameDataset, torch.Tensor | None]:
    """The training and validation splits (the same validation hints every epoch) and the frames' draw weights."""
    train_ds = FrameDataset(
        cfg.dataset,
        "train",
        crop=cfg.crop,
        flip=cfg.flip,
        degrade_p=cfg.degrade_p if cfg.degrade else 0.0,
        with_box=cfg.coords,
        hints=hint_sampling(cfg),
    )
    val_ds = FrameDataset(cfg.dataset, "val", fraction=cfg.val_fraction, hints=hint_sampling(cfg))
    val_ds.seed = cfg.seed
    frame_weights = train_ds.sample_weights(cfg.source_weights) if cfg.source_weights else None
    if len(train_ds) < cfg.batch_size:
        raise ValueError(
            f"{cfg.dataset}: the training split has {len(train_ds)} frames, fewer than one batch"
        )
    if len(val_ds) == 0:
        raise ValueError(f"{cfg.dataset}: the validation split is empty (early stopping needs one)")
    return train_ds, val_ds, frame_weights


@dataclass
class Progress:
    """Where a run stands after `epoch` epochs; last.pt keeps it, so `resume = true` goes on from there."""

    epoch: int = 0
    step: int = 0
    history: list[dict] = field(default_factory=list)
    best_val: float = math.inf
    bad_epochs: int = 0
    train_seconds: float = 0.0

    def state(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "history": self.history,
            "best_val": self.best_val,
            "bad_epochs": self.bad_epochs,
            "train_seconds": self.train_seconds,
        }

    def end_epoch(self, seconds: float, val_loss: float, new_phase: bool) -> bool:
        """Count the epoch done; True if its validation loss is the best so far (early stopping counts the
        others). A loss whose scale changes (`new_phase`) starts the comparison anew."""
        self.epoch += 1
        self.train_seconds += seconds
        improved = val_loss < self.best_val - 1e-6 or new_phase
        self.best_val, self.bad_epochs = (val_loss, 0) if improved else (self.best_val, self.bad_epochs + 1)
        return improved

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Progress:
        keys = ("epoch", "step", "history", "best_val", "bad_epochs")
        return cls(**{k: state[k] for k in keys}, train_seconds=state.get("train_seconds", 0.0))


@dataclass
class Run:
    """The parts one training process works with."""

    cfg: TrainConfig
    procs: Processes
    device: torch.device
    model: UNet
    net: nn.Module  # model.logits as a forward pass, under DistributedDataParallel across processes
    opt: torch.optim.Optimizer
    loss: Loss
    say: Callable[[dict[str, Any]], None]
    steps_per_epoch: int
    progress: Progress = field(default_factory=Progress)
    summary_base: dict[str, Any] = field(default_factory=dict)  # where and on what the run trains

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16) if self.cuda and self.cfg.bf16 else nullcontext()

    def resume(self, last_path: Path) -> None:
        """Go on from last.pt: weights, optimizer, the loss's own parts and where the run stood."""
        state = checkpoint.load(last_path)
        self.model.load_state_dict(state["state_dict"])
        self.opt.load_state_dict(state["optimizer"])
        self.loss.load(state)
        self.progress = Progress.from_state(state)
        self.say(
            {
                "event": "resumed",
                "from": str(last_path),
                "epoch": self.progress.epoch,
                "step": self.progress.step,
            }
        )

    def distribute(self) -> None:
        """Under torchrun, gradients averaged across the processes (DistributedDataParallel)."""
        if self.procs.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(
                self.net, device_ids=[self.procs.local_rank] if self.cuda else None
            )

    def train_epoch(self, loader: DataLoader, epoch: int) -> dict[str, float]:
        """One pass over `loader`: a generator step per batch (and the loss's own step after it)."""
        cfg, model, progress, stride = self.cfg, self.model, self.progress, self.loss.stride
        model.train()
        t0 = time.perf_counter()
        tot_loss = tot_mae = 0.0
        seen = 0
        total_steps = self.steps_per_epoch * cfg.epochs
        for batch in loader:
            L, ab = batch[0].to(self.device, non_blocking=True), batch[1].to(self.device, non_blocking=True)
            box = batch[2].to(self.device) if cfg.coords else None  # where each crop lies in its frame
            hints = batch[-1].to(self.device) if cfg.hints else None  # hint channels drawn from the truth
            if self.cuda and cfg.channels_last:
                L = L.contiguous(memory_format=torch.channels_last)
            lr = _lr_at(cfg, progress.step, total_steps)
            for group in self.opt.param_groups:
                group["lr"] = lr * group.get("lr_mult", 1.0)
            with self.autocast():
                L_s, ab = L[..., ::stride, ::stride], ab[..., ::stride, ::stride]
                logits = self.net(L, box, stride, hints)
                pred = model.decode(logits)
                loss = self.loss(logits, pred, L_s, ab)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.loss.after_step(L_s, ab, pred, self.autocast)
            progress.step += 1
            tot_loss += float(loss.detach()) * len(L)
            with torch.no_grad():
                tot_mae += (
                    float((pred[..., ::2, ::2].float() - ab[..., ::2, ::2]).abs().mean()) * AB_SCALE * len(L)
                )
            seen += len(L)
            if progress.step % 20 == 0:
                self.say(
                    {
                        "event": "step",
                        "epoch": epoch + 1,
                        "step": progress.step,
                        "loss": round(float(loss.detach()), 4),
                        "lr": lr,
                        "images_per_s": round(seen * self.procs.world / (time.perf_counter() - t0), 2),
                    }
                )
        return {"loss": tot_loss, "mae": tot_mae, "seen": seen, "lr": lr, "seconds": time.perf_counter() - t0}

    def validate(self, val_ds: FrameDataset) -> dict[str, float]:
        """The main process validates; every process gets its figures (the same early-stopping decision)."""
        val = (
            validate_epoch(self.model, self.loss.criterion, val_ds, self.cfg, self.device, self.autocast)
            if self.procs.main
            else {}
        )
        if self.procs.world > 1:
            import torch.distributed as dist

            shared = [val]
            dist.broadcast_object_list(shared, src=0)
            val = shared[0]
        return val

    def record(self, epoch: int, totals: dict[str, float], val: dict[str, float], improved: bool) -> None:
        """The epoch's row in metrics.csv and curves.png; last.pt, and best.pt when validation improved."""
        cfg, progress, seen = self.cfg, self.progress, totals["seen"]
        row = {
            "epoch": epoch + 1,
            "train_loss": round(totals["loss"] / max(seen, 1), 5),  # the main process's share of the batches
            "train_mae": round(totals["mae"] / max(seen, 1), 4),
            **{k: round(v, 5 if k == "val_loss" else 4) for k, v in val.items()},
            "lr": round(totals["lr"], 7),
            "seconds": round(totals["seconds"], 1),
            "images_per_s": round(seen * self.procs.world / totals["seconds"], 2),
        }
        progress.history.append(row)
        write_curves(progress.history, cfg.run_dir())
        if not (math.isfinite(val["val_loss"]) and math.isfinite(totals["loss"])):
            raise FloatingPointError(
                f"{cfg.name}: training diverged in epoch {epoch + 1} (the loss is not a number); "
                f"lower lr (now {cfg.lr}) and start again, or resume from an earlier last.pt"
            )
        best = round(progress.best_val, 5)
        best_epoch = next((r["epoch"] for r in progress.history if r["val_loss"] == best), epoch + 1)
        summary = {
            **self.summary_base,
            "epochs_done": epoch + 1,
            "train_seconds": round(progress.train_seconds, 1),
            "best_epoch": best_epoch,
            "history": progress.history,
        }
        saved = {
            "name": cfg.name,
            "step": progress.step,
            "train_config": cfg.to_dict(),
            "train_summary": summary,
        }
        if improved:
            checkpoint.save(cfg.run_dir() / "best.pt", self.model, **saved)
        checkpoint.save(
            cfg.run_dir() / "last.pt",
            self.model,
            **saved,
            optimizer=self.opt.state_dict(),
            **progress.state(),
            **self.loss.state(),
        )
        self.say({"event": "epoch", **row, "best": improved})


def fit(cfg: TrainConfig, on_progress: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Train, validate each epoch, keep last.pt and best.pt; under torchrun, one process per device."""
    validate(cfg)
    procs, device = start_processes(cfg)
    say = procs.reporter(on_progress)
    run_dir = cfg.run_dir()
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    cuda = device.type == "cuda"
    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(not cuda, warn_only=True)
    train_ds, val_ds, frame_weights = load_splits(cfg)

    model = build_model(cfg).to(device)
    loss = LOSSES[cfg.loss](cfg, train_ds, device)
    groups = _param_groups(model, cfg.pixel_paths_lr_mult, cfg.encoder_lr_mult)
    opt = torch.optim.Adam(groups, lr=cfg.lr, betas=loss.betas, weight_decay=cfg.weight_decay)
    if cuda and cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    steps_per_epoch = len(train_ds) // cfg.batch_size
    if cfg.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)
    run = Run(cfg, procs, device, model, NetworkLogits(model), opt, loss, say, steps_per_epoch)
    last_path, best_path = run_dir / "last.pt", run_dir / "best.pt"
    if cfg.resume and last_path.is_file():
        run.resume(last_path)
    run.distribute()  # after loading, so every process starts from the same weights (DDP broadcasts rank 0's)
    say(
        {
            "event": "start",
            "device": str(device),
            "processes": procs.world,
            "params": count_parameters(model),
            "train": len(train_ds),
            "val": len(val_ds),
            "steps_per_epoch": steps_per_epoch,
            "epochs": cfg.epochs,
            "run_dir": str(run_dir),
        }
    )
    run.summary_base = summary_of(cfg, procs, device, train_ds, val_ds)
    progress = run.progress
    for epoch in range(progress.epoch, cfg.epochs):
        if progress.bad_epochs >= cfg.patience:
            break
        torch.manual_seed(cfg.seed + epoch)
        train_ds.seed = cfg.seed + epoch  # crops, flips, damage and hints: drawn per frame from this seed
        order = epoch_order(len(train_ds), steps_per_epoch * cfg.batch_size, cfg.seed + epoch, frame_weights)
        loader = DataLoader(
            train_ds,
            batch_size=cfg.batch_size // procs.world,
            sampler=order[procs.rank :: procs.world],
            drop_last=True,
            num_workers=cfg.workers,
            pin_memory=cuda,
        )
        new_phase = loss.start_epoch(epoch)
        totals = run.train_epoch(loader, epoch)
        val = run.validate(val_ds)
        improved = progress.end_epoch(totals["seconds"], val["val_loss"], new_phase)
        if procs.main:
            run.record(epoch, totals, val, improved)

    if procs.main:
        finish_best(cfg, best_path, loss, val_ds, device, say)
    return best_path


def summary_of(cfg: TrainConfig, procs: Processes, device, train_ds, val_ds) -> dict[str, Any]:
    """Where and on what a run trained (the checkpoint's train_summary)."""
    return {
        "device": str(device),
        "processes": procs.world,
        "machine": platform.node(),
        "cpu": platform.processor() or platform.machine(),
        "torch": str(torch.__version__),
        "threads": torch.get_num_threads(),
        "dataset": cfg.dataset,
        "train_frames": len(train_ds),
        "val_frames": len(val_ds),
    }


def finish_best(cfg: TrainConfig, best_path: Path, loss: Loss, val_ds: FrameDataset, device, say) -> None:
    """The best checkpoint as shipped: with the decoding its loss tunes on validation (bins); fp16 weights."""
    if not best_path.is_file():
        return
    best_model, ckpt = checkpoint.load_model(best_path, device)
    summary = ckpt.get("train_summary", {})
    choice = loss.tune_decoding(best_model, val_ds)
    if choice is not None:
        summary = {**summary, "decoding_tuning": choice}
        say({"event": "decoding", **{k: v for k, v in choice.items() if k != "table"}})
    elif not cfg.save_half:
        return
    checkpoint.save(
        best_path,
        best_model,
        name=cfg.name,
        step=ckpt["step"],
        train_config=cfg.to_dict(),
        train_summary=summary,
        half=cfg.save_half,
    )
