"""fit(cfg) -> best checkpoint path: a linear, readable training loop (nanoGPT style).

Per epoch: train on random crops, validate on whole 224 frames, append a row to metrics.csv, redraw
curves.png, save `last.pt` (model + optimizer + history: `resume = true` continues from it) and, when the
validation loss improves, `best.pt`. Early stopping after `patience` epochs without improvement. The
torch seed is reset to seed + epoch at the start of every epoch, so a resumed run follows the same path as
an uninterrupted one. For head = "bins" the decoding (annealed-mean temperature, ab smoothing, chroma gain,
mirror averaging) is tuned on the validation split at the end and stored in the best checkpoint's model_args.
"""

from __future__ import annotations

import csv
import math
import os
import platform
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from colorization import checkpoint
from colorization.color import AB_SCALE
from colorization.models import UNet, UNetConfig, count_parameters, scale_chroma, smooth_ab
from training.config import TrainConfig, validate
from training.data import FrameDataset, HintSampling
from training.losses import (
    Adversary,
    bin_prior,
    create_loss,
    rebalance_weights,
    within_image_pearson,
)

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


def class_weights_for(ds: FrameDataset, cfg: TrainConfig, max_frames: int = 4000) -> torch.Tensor:
    """Rebalancing weights from the ab prior measured on the TRAINING split (every 4th pixel)."""
    step = max(1, len(ds) // max_frames)
    samples = [ds.raw(i)[1][:, ::4, ::4].reshape(2, -1).T for i in range(0, len(ds), step)]
    prior = bin_prior(np.concatenate(samples), cfg.bin_grid, cfg.soft_sigma)
    return rebalance_weights(prior, cfg.rebalance_lambda)


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


def start_processes(cfg: TrainConfig) -> tuple[Processes, torch.device]:
    """Join the process group torchrun set up (WORLD_SIZE > 1): NCCL between GPUs, gloo between CPU
    processes; a plain run stays a single process."""
    device = _device(cfg)
    world = int(os.environ.get("WORLD_SIZE", "1"))
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


def fit(cfg: TrainConfig, on_progress: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Train, validate each epoch, keep last.pt and best.pt; under torchrun, one process per device."""
    validate(cfg)
    procs, device = start_processes(cfg)
    if cfg.batch_size % procs.world:
        raise ValueError(f"batch_size {cfg.batch_size} must divide among the {procs.world} processes")
    if procs.world > 1 and cfg.loss == "adversarial":
        raise ValueError("the adversarial loss trains in one process (its discriminator is not distributed)")
    say = (on_progress or (lambda info: None)) if procs.main else (lambda info: None)
    run_dir = cfg.run_dir()
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    cuda = device.type == "cuda"
    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(not cuda, warn_only=True)

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
    val_ds.seed = cfg.seed  # the same validation hints every epoch
    frame_weights = train_ds.sample_weights(cfg.source_weights) if cfg.source_weights else None
    if len(train_ds) < cfg.batch_size:
        raise ValueError(
            f"{cfg.dataset}: the training split has {len(train_ds)} frames, fewer than one batch"
        )
    if len(val_ds) == 0:
        raise ValueError(f"{cfg.dataset}: the validation split is empty (early stopping needs one)")

    model = build_model(cfg).to(device)
    kwargs = {"class_weights": class_weights_for(train_ds, cfg)} if cfg.loss == "bins" else {}
    criterion = create_loss(cfg, **kwargs).to(device)
    opt_betas = (0.5, 0.999) if cfg.loss == "adversarial" else (cfg.beta1, cfg.beta2)
    opt = torch.optim.Adam(
        _param_groups(model, cfg.pixel_paths_lr_mult, cfg.encoder_lr_mult),
        lr=cfg.lr,
        betas=opt_betas,
        weight_decay=cfg.weight_decay,
    )
    adversary = Adversary(cfg.lr, device) if cfg.loss == "adversarial" else None
    if cuda and cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16) if cuda and cfg.bf16 else nullcontext()

    steps_per_epoch = len(train_ds) // cfg.batch_size
    if cfg.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)
    total_steps = steps_per_epoch * cfg.epochs
    history: list[dict] = []
    start_epoch, step, best_val, bad_epochs, train_seconds = 0, 0, math.inf, 0, 0.0
    last_path, best_path = run_dir / "last.pt", run_dir / "best.pt"
    if cfg.resume and last_path.is_file():
        state = checkpoint.load(last_path)
        model.load_state_dict(state["state_dict"])
        opt.load_state_dict(state["optimizer"])
        if adversary is not None:
            adversary.load(state)
        start_epoch, step, history = state["epoch"], state["step"], state["history"]
        best_val, bad_epochs = state["best_val"], state["bad_epochs"]
        train_seconds = state.get("train_seconds", 0.0)
        say({"event": "resumed", "from": str(last_path), "epoch": start_epoch, "step": step})
    net = NetworkLogits(model)
    if (
        procs.world > 1
    ):  # after loading, so every process starts from the same weights (DDP broadcasts rank 0's)
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(net, device_ids=[procs.local_rank] if cuda else None)
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
    summary_base = {
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
    stride = cfg.bins_stride if cfg.loss == "bins" else 1  # head and loss on a pixel subgrid (4x cheaper)
    for epoch in range(start_epoch, cfg.epochs):
        if bad_epochs >= cfg.patience:
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
        model.train()
        t0 = time.perf_counter()
        tot_loss = tot_mae = 0.0
        seen = 0
        gan_on = adversary is not None and epoch >= cfg.gan_pretrain_epochs
        for batch in loader:
            L, ab = batch[0].to(device, non_blocking=True), batch[1].to(device, non_blocking=True)
            box = batch[2].to(device) if cfg.coords else None  # where each crop lies in its frame
            hints = batch[-1].to(device) if cfg.hints else None  # hint channels drawn from the truth
            if cuda and cfg.channels_last:
                L = L.contiguous(memory_format=torch.channels_last)
            lr = _lr_at(cfg, step, total_steps)
            for group in opt.param_groups:
                group["lr"] = lr * group.get("lr_mult", 1.0)
            with autocast():
                L_s, ab = L[..., ::stride, ::stride], ab[..., ::stride, ::stride]
                logits = net(L, box, stride, hints)
                pred = model.decode(logits)
                loss = criterion(logits, pred, L_s, ab)
                if gan_on:  # pix2pix: cGAN + lambda * L1 (the criterion is the L1 term)
                    loss = cfg.gan_l1_lambda * loss + adversary.generator_term(L, pred)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if gan_on:
                adversary.step(L, ab, pred, autocast)
            step += 1
            tot_loss += float(loss.detach()) * len(L)
            with torch.no_grad():
                tot_mae += (
                    float((pred[..., ::2, ::2].float() - ab[..., ::2, ::2]).abs().mean()) * AB_SCALE * len(L)
                )
            seen += len(L)
            if step % 20 == 0:
                say(
                    {
                        "event": "step",
                        "epoch": epoch + 1,
                        "step": step,
                        "loss": round(float(loss.detach()), 4),
                        "lr": lr,
                        "images_per_s": round(seen * procs.world / (time.perf_counter() - t0), 2),
                    }
                )
        seconds = time.perf_counter() - t0
        train_seconds += seconds
        val = validate_epoch(model, criterion, val_ds, cfg, device, autocast) if procs.main else {}
        if procs.world > 1:  # every process takes the same early-stopping decision
            import torch.distributed as dist

            shared = [val]
            dist.broadcast_object_list(shared, src=0)
            val = shared[0]
        val_loss = val["val_loss"]
        # the GAN phase changes the loss's scale: compare validation losses only within one phase
        improved = val_loss < best_val - 1e-6 or (adversary is not None and epoch == cfg.gan_pretrain_epochs)
        best_val, bad_epochs = (val_loss, 0) if improved else (best_val, bad_epochs + 1)
        if not procs.main:
            continue
        row = {
            "epoch": epoch + 1,
            "train_loss": round(tot_loss / max(seen, 1), 5),  # the main process's share of the batches
            "train_mae": round(tot_mae / max(seen, 1), 4),
            **{k: round(v, 5 if k == "val_loss" else 4) for k, v in val.items()},
            "lr": round(lr, 7),
            "seconds": round(seconds, 1),
            "images_per_s": round(seen * procs.world / seconds, 2),
        }
        history.append(row)
        write_curves(history, run_dir)
        if not (math.isfinite(val_loss) and math.isfinite(tot_loss)):
            raise FloatingPointError(
                f"{cfg.name}: training diverged in epoch {epoch + 1} (the loss is not a number); "
                f"lower lr (now {cfg.lr}) and start again, or resume from an earlier last.pt"
            )
        best_epoch = next((r["epoch"] for r in history if r["val_loss"] == round(best_val, 5)), epoch + 1)
        summary = {
            **summary_base,
            "epochs_done": epoch + 1,
            "train_seconds": round(train_seconds, 1),
            "best_epoch": best_epoch,
            "history": history,
        }
        saved = {"name": cfg.name, "step": step, "train_config": cfg.to_dict(), "train_summary": summary}
        if improved:
            checkpoint.save(best_path, model, **saved)
        checkpoint.save(
            last_path,
            model,
            **saved,
            optimizer=opt.state_dict(),
            epoch=epoch + 1,
            history=history,
            best_val=best_val,
            bad_epochs=bad_epochs,
            train_seconds=train_seconds,
            **(adversary.state() if adversary else {}),
        )
        say({"event": "epoch", **row, "best": improved})

    if procs.main:
        finish_best(cfg, best_path, val_ds, device, say)
    return best_path


def finish_best(cfg: TrainConfig, best_path: Path, val_ds: FrameDataset, device, say) -> None:
    """The best checkpoint as shipped: for a bins model, the decoding tuned on validation; fp16 weights."""
    if not best_path.is_file():
        return
    best_model, ckpt = checkpoint.load_model(best_path, device)
    summary = ckpt.get("train_summary", {})
    if cfg.head == "bins" and cfg.tune_decoding:
        choice = tune_decoding(
            best_model,
            val_ds,
            cfg.temperature_candidates,
            cfg.min_colourfulness_ratio,
            gains=cfg.chroma_gain_candidates,
            mirror=cfg.tune_flip_average,
            smoothings=cfg.ab_smoothing_candidates,
        )
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


@torch.no_grad()
def tune_decoding(
    model: UNet,
    ds: FrameDataset,
    temperatures: list[float],
    min_ratio: float,
    max_frames: int = 300,
    gains: list[float] = (1.0,),
    mirror: bool = False,
    psnr_tolerance_db: float = 0.1,
    smoothings: list[float] = (0.0,),
) -> dict[str, Any]:
    """How a bins model turns logits into colour, chosen on VALIDATION frames: annealed-mean temperature, ab
    smoothing, chroma gain and (with `mirror`) mirror averaging, every combination. Among the combinations whose
    colourfulness reaches `min_ratio` of the true frames' (the most colourful one when none does), those within
    `psnr_tolerance_db` of the best mean PSNR are as accurate as each other; of these, the one whose colour varies
    most where the truth does (within-image ab Pearson) wins. Sets the choice on `model.config`."""
    from colorization.color import lab_to_rgb
    from colorization.metrics import ab_pearson, colourfulness, psnr

    model.eval()
    device = next(model.parameters()).device
    idx = sorted(
        {int(i) for i in np.linspace(0, len(ds) - 1, min(max_frames, len(ds))).round()}
    )  # evenly spread
    combos = [
        (f, t, s, g)
        for f in ((False, True) if mirror else (False,))
        for t in temperatures
        for s in smoothings
        for g in gains
    ]
    stats = {c: {"psnr": 0.0, "colour": 0.0, "pearson": 0.0} for c in combos}
    true_colour = gray_psnr = tint_psnr = 0.0
    mean_ab = np.mean([ds.raw(i)[1].reshape(2, -1).mean(1) for i in idx], axis=0)
    for i in idx:
        L, ab = ds.raw(i)
        true_lab = np.concatenate([L[..., None], ab.transpose(1, 2, 0)], -1).astype(np.float32)
        true_rgb = lab_to_rgb(true_lab)
        true_colour += colourfulness(true_rgb)
        gray_psnr += psnr(lab_to_rgb(np.stack([L, 0 * L, 0 * L], -1)), true_rgb)
        tint_psnr += psnr(lab_to_rgb(np.stack([L, 0 * L + mean_ab[0], 0 * L + mean_ab[1]], -1)), true_rgb)
        x = torch.from_numpy(L / 100.0)[None, None].float().to(device)
        stride = model.config.head_stride  # as inference decodes (mirror averaging runs at stride 1)
        logits = {False: model.logits(x, stride=stride)}
        if mirror:
            logits[True] = model.mirror_averaged_logits(x, logits=logits[False] if stride == 1 else None)
        # the softmax is the slow part: once per (mirror, temperature); then a blur per sigma; a gain only scales
        annealed, smoothed = {}, {}
        for f, t, s, g in combos:
            if (f, t) not in annealed:
                annealed[f, t] = model.to_input_size(
                    model.decode(logits[f], temperature=t, chroma_gain=1.0, smoothing=0.0), x.shape[-2:]
                )
            if (f, t, s) not in smoothed:
                smoothed[f, t, s] = smooth_ab(annealed[f, t], s)
            pred = scale_chroma(smoothed[f, t, s], g)[0].float().cpu().numpy()
            pred_lab = np.concatenate([L[..., None], pred.transpose(1, 2, 0) * AB_SCALE], -1)
            rgb = lab_to_rgb(pred_lab)
            stats[(f, t, s, g)]["psnr"] += psnr(rgb, true_rgb)
            stats[(f, t, s, g)]["pearson"] += ab_pearson(pred_lab, true_lab)
            stats[(f, t, s, g)]["colour"] += colourfulness(rgb)
    n = len(idx)
    table = [
        {
            "flip_average": f,
            "temperature": t,
            "ab_smoothing": s,
            "chroma_gain": g,
            "psnr": round(m["psnr"] / n, 3),
            "colourfulness_ratio": round(m["colour"] / true_colour, 3),
            "ab_pearson": round(m["pearson"] / n, 3),
        }
        for (f, t, s, g), m in stats.items()
    ]
    ok = [r for r in table if r["colourfulness_ratio"] >= min_ratio]
    if ok:
        top = max(r["psnr"] for r in ok)
        best = max(
            (r for r in ok if r["psnr"] >= top - psnr_tolerance_db),
            key=lambda r: (r["ab_pearson"], r["psnr"]),
        )
    else:
        best = max(table, key=lambda r: r["colourfulness_ratio"])
    model.config.temperature = best["temperature"]
    model.config.chroma_gain = best["chroma_gain"]
    model.config.flip_average = best["flip_average"]
    model.config.ab_smoothing = best["ab_smoothing"]
    return {
        "temperature": best["temperature"],
        "chroma_gain": best["chroma_gain"],
        "flip_average": best["flip_average"],
        "ab_smoothing": best["ab_smoothing"],
        "min_colourfulness_ratio": min_ratio,
        "psnr_tolerance_db": psnr_tolerance_db,
        "frames": n,
        "table": table,
        "gray_psnr": round(gray_psnr / n, 3),
        "tint_psnr": round(tint_psnr / n, 3),
    }
