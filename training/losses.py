"""Losses (a closed set: a plain dict). Each takes the head output and the batch and returns a scalar.

    loss(logits, pred, L, ab) -> tensor      logits: model.logits(L); pred = model.decode(logits), ab / 128

- "mse": MSE on ab (the thesis's first model).
- "perceptual-vgg16" / "perceptual-resnet50": the thesis's layers (VGG16 features 3, 8, 15; ResNet50 after
  relu, layer1, layer2), on RGB images made from the TRUE L with the predicted or the true ab, converted
  differentiably (`lab_to_rgb_torch`) and ImageNet-normalized, so the frozen backbone sees the kind of image it
  was trained on (the thesis fed it "pseudo-Lab" images).
- "bins": Zhang et al. (ECCV 2016) classification over quantized ab with class rebalancing.
- "adversarial": pix2pix (the generator's L1 term here; the PatchGAN and its step are `Adversary`'s).

The criterion is the loss's own term plus weighted terms (`Weighted`, as BasicSR sums small weighted losses):
`mse_weight` * MSE on ab (perceptual and bins losses) and `pearson_weight` * (1 - the within-image correlation of
predicted and true ab, `PearsonTerm`), the criterion that asks colour to vary in the right places.

fit() drives a loss through `Loss` (one subclass per name in `LOSSES`): what it needs from the training data, its
Adam betas, its pixel stride, and its own steps (the discriminator's, the decoding tuned at the end), so the
training loop never asks which loss it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from colorization.color import AB_SCALE, L_SCALE, ab_bin_centers, lab_to_rgb_torch
from training import decoding

if TYPE_CHECKING:
    from colorization.models import UNet
    from training.config import TrainConfig
    from training.data import FrameDataset

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BACKBONE_FILES = {
    "vgg16": "vgg16-397923af.pth",
    "resnet50": "resnet50-0676ba61.pth (or resnet50-11ad3fa6.pth)",
}


class BackboneMissing(FileNotFoundError):
    pass


def lab_batch_to_rgb(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """L / 100 (N, 1, H, W) and ab / 128 (N, 2, H, W) -> sRGB (N, 3, H, W), differentiable."""
    return lab_to_rgb_torch(torch.cat([L * L_SCALE, ab * AB_SCALE], dim=1).float())


class MSELoss(nn.Module):
    def forward(self, logits, pred, L, ab):
        return F.mse_loss(pred.float(), ab.float())


def _load_backbone_state(kind: str, weights: str | None, random_backbone: bool):
    if weights:
        path = Path(weights)
        if not path.is_file():
            raise BackboneMissing(
                f"{path}: perceptual backbone weights not found (torchvision {BACKBONE_FILES[kind]})"
            )
        return torch.load(path, map_location="cpu", weights_only=True)
    if random_backbone:
        return None
    raise BackboneMissing(
        f"the perceptual-{kind} loss needs ImageNet weights for {kind}: download torchvision's "
        f"{BACKBONE_FILES[kind]} on a machine with internet and pass its path as backbone_weights "
        "(config key or --set backbone_weights=PATH); random_backbone=true exists for tests only"
    )


class Perceptual(nn.Module):
    """Frozen ImageNet backbone; loss = sum over layers of mean squared feature differences."""

    def __init__(self, kind: str, weights: str | None = None, random_backbone: bool = False):
        super().__init__()
        import torchvision

        state = _load_backbone_state(kind, weights, random_backbone)
        if kind == "vgg16":
            net = torchvision.models.vgg16(weights=None)
            if state is not None:
                net.load_state_dict(state)
            feats = net.features[:16]
            # outputs of modules 3, 8, 15: the ReLUs after conv1_2, conv2_2, conv3_3 (Keras block{1,2,3}_conv*)
            self.stages = nn.ModuleList([feats[:4], feats[4:9], feats[9:16]])
        elif kind == "resnet50":
            net = torchvision.models.resnet50(weights=None)
            if state is not None:
                net.load_state_dict(state)
            # after relu (conv1_relu), after layer1 (conv2_block3_out), after layer2 (conv3_block4_out)
            self.stages = nn.ModuleList(
                [
                    nn.Sequential(net.conv1, net.bn1, net.relu),
                    nn.Sequential(net.maxpool, net.layer1),
                    net.layer2,
                ]
            )
        else:
            raise ValueError(f"unknown perceptual backbone {kind!r}")
        self.stages.eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def train(self, mode: bool = True):  # the backbone stays in eval mode (frozen batch-norm statistics)
        super().train(mode)
        self.stages.eval()
        return self

    def forward(self, logits, pred, L, ab):
        x = (lab_batch_to_rgb(L, pred) - self.mean) / self.std
        with torch.no_grad():
            y = (lab_batch_to_rgb(L, ab) - self.mean) / self.std
        loss = pred.new_zeros((), dtype=torch.float32)
        for stage in self.stages:
            x = stage(x)
            with torch.no_grad():
                y = stage(y)
            loss = loss + F.mse_loss(x.float(), y.float())
        return loss


class BinsLoss(nn.Module):
    """Rebalanced cross-entropy over quantized ab with soft-encoded targets (Zhang et al. 2016).

    The true ab of each pixel is soft-encoded onto the bins of the 3x3 grid neighbourhood of its nearest bin
    with a Gaussian (sigma 5 ab units: bins further than ~14 units would get < 2% of the weight, so this
    matches Zhang's 5 nearest neighbours); the pixel's weight is the rebalancing weight of its nearest bin:
    w = ((1 - lambda) * prior_smoothed + lambda / K)^-1, normalised so that E_prior[w] = 1.
    """

    def __init__(self, grid: float = 10.0, sigma: float = 5.0, class_weights: torch.Tensor | None = None):
        super().__init__()
        centers = ab_bin_centers(grid)
        self.grid, self.sigma = grid, sigma
        self.n = int(round(110.0 / grid)) * 2 + 1  # grid points per axis (-110..110)
        lut = np.full((self.n, self.n), -1, dtype=np.int64)
        idx = np.round((centers + 110.0) / grid).astype(int)
        lut[idx[:, 0], idx[:, 1]] = np.arange(len(centers))
        self.register_buffer("lut", torch.from_numpy(lut), persistent=False)
        self.register_buffer("centers", torch.from_numpy(centers), persistent=False)
        w = class_weights if class_weights is not None else torch.ones(len(centers))
        self.register_buffer("class_weights", w.float(), persistent=False)
        self.K = len(centers)

    def _encode_exact(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ab in Lab units (any shape S) -> (bin index (S, 9), soft weight (S, 9)) over the 3x3 neighbourhood."""
        ia = torch.round((a + 110.0) / self.grid).long().clamp(0, self.n - 1)
        ib = torch.round((b + 110.0) / self.grid).long().clamp(0, self.n - 1)
        idxs, ws = [], []
        for da in (-1, 0, 1):
            for db in (-1, 0, 1):
                ja, jb = ia + da, ib + db
                inside = (ja >= 0) & (ja < self.n) & (jb >= 0) & (jb < self.n)
                k = self.lut[ja.clamp(0, self.n - 1), jb.clamp(0, self.n - 1)]
                valid = inside & (k >= 0)
                ca, cb = ja.float() * self.grid - 110.0, jb.float() * self.grid - 110.0
                d2 = (a - ca) ** 2 + (b - cb) ** 2
                ws.append(torch.where(valid, torch.exp(-d2 / (2 * self.sigma**2)), torch.zeros_like(d2)))
                idxs.append(k.clamp(min=0))
        idx, w = torch.stack(idxs, -1), torch.stack(ws, -1)
        w = w / w.sum(-1, keepdim=True).clamp(min=1e-12)
        order = torch.argsort(w, dim=-1, descending=True)  # nearest bin first
        return torch.gather(idx, -1, order), torch.gather(w, -1, order)

    def _table(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Targets for every integer (a, b) in -128..127: the dataset stores ab as int8, so a lookup is exact
        (and ~20x faster than encoding each pixel)."""
        if getattr(self, "_tab", None) is None or self._tab[0].device != device:
            v = torch.arange(-128, 128, dtype=torch.float32)
            a, b = torch.meshgrid(v, v, indexing="ij")
            idx, w = self._encode_exact(a.reshape(-1).to(self.lut.device), b.reshape(-1).to(self.lut.device))
            self._tab = (idx[:, : self.keep].to(device), w[:, : self.keep].to(device))
        return self._tab

    keep = 5  # Zhang et al.: the 5 nearest bins

    def encode(self, ab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ab / 128 (N, 2, H, W) -> (bin index (N, 5, H, W), soft weight (N, 5, H, W), nearest bin (N, H, W))."""
        q = torch.round(ab.float() * AB_SCALE).long().clamp(-128, 127) + 128
        key = q[:, 0] * 256 + q[:, 1]
        tidx, tw = self._table(ab.device)
        idx = tidx[key].permute(0, 3, 1, 2)
        w = tw[key].permute(0, 3, 1, 2)
        w = w / w.sum(1, keepdim=True).clamp(min=1e-12)
        return idx, w, idx[:, 0]

    def forward(self, logits, pred, L, ab):
        idx, w, nearest = self.encode(ab)
        logp = F.log_softmax(logits.float(), dim=1)
        ce = -(torch.gather(logp, 1, idx) * w).sum(1)  # (N, H, W)
        # the plain weighted mean (Zhang et al.): the weights have E_prior[w] = 1, so a batch of common colours
        # weighs less than a batch of rare ones instead of every batch being renormalised to the same total
        return (ce * self.class_weights[nearest]).mean()


def within_image_pearson(
    pred: torch.Tensor,
    ab: torch.Tensor,
    L: torch.Tensor,
    l_range: tuple[float, float] = (25.0, 75.0),
    flat: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Differentiable twin of `colorization.metrics.ab_pearson` for a batch: pred, ab / 128 (N, 2, H, W), L / 100
    (N, 1, H, W) -> (correlation (N, 2), counts (N, 2) bool: the true channel varies by at least `flat` Lab units
    over the pixels whose true L lies in `l_range`)."""
    mask = ((L * L_SCALE >= l_range[0]) & (L * L_SCALE <= l_range[1])).float()  # (N, 1, H, W)
    n = mask.sum((2, 3)).clamp(min=1.0)  # (N, 1)
    p, t = pred.float(), ab.float()
    p = p - (p * mask).sum((2, 3), keepdim=True) / n[..., None, None]
    t = t - (t * mask).sum((2, 3), keepdim=True) / n[..., None, None]
    cov = (p * t * mask).sum((2, 3))
    var_p, var_t = (p * p * mask).sum((2, 3)), (t * t * mask).sum((2, 3))
    corr = cov / torch.sqrt(var_p * var_t + 1e-12)
    counts = var_t / n >= (flat / AB_SCALE) ** 2
    return corr, counts


class PearsonTerm(nn.Module):
    """1 - mean within-image correlation of predicted and true ab, over the (image, channel) pairs that vary."""

    def forward(self, logits, pred, L, ab):
        corr, counts = within_image_pearson(pred, ab, L)
        return (1.0 - corr[counts]).mean() if counts.any() else pred.new_zeros((), dtype=torch.float32)


class Weighted(nn.Module):
    """base loss + the sum of weight * term over `terms`, then over `first`, whose terms are evaluated before the
    base loss. (The order of evaluation is the order autograd sums gradients in: the Pearson term has always been
    evaluated first, and keeping that keeps a run's weights the same bit for bit.)"""

    def __init__(
        self,
        base: nn.Module,
        terms: list[tuple[float, nn.Module]] = (),
        first: list[tuple[float, nn.Module]] = (),
    ):
        super().__init__()
        self.base = base
        self.weights, self.first_weights = [w for w, _ in terms], [w for w, _ in first]
        self.terms, self.first = nn.ModuleList([t for _, t in terms]), nn.ModuleList([t for _, t in first])

    def forward(self, logits, pred, L, ab):
        early = [term(logits, pred, L, ab) for term in self.first]
        loss = self.base(logits, pred, L, ab)
        for weight, term in zip(self.weights, self.terms, strict=True):
            loss = loss + weight * term(logits, pred, L, ab)
        for weight, value in zip(self.first_weights, early, strict=True):
            loss = loss + weight * value
        return loss


def bin_prior(ab_samples: np.ndarray, grid: float = 10.0, sigma: float = 5.0) -> np.ndarray:
    """Empirical distribution over the bins of ab samples (M, 2) in Lab units, Gaussian-smoothed (sigma).

    Each sample counts for its nearest in-gamut bin by the loss's own rule (`BinsLoss.encode`), so a pixel
    whose nearest grid cell is out of gamut is counted where the loss puts it instead of being dropped.
    """
    loss = BinsLoss(grid, sigma)
    samples = torch.from_numpy(np.asarray(ab_samples, dtype=np.float32).T[None, :, :, None] / AB_SCALE)
    nearest = loss.encode(samples)[2].reshape(-1).numpy()  # (1, 2, M, 1) -> the loss's nearest bin per sample
    centers = loss.centers.numpy().astype(np.float64)
    counts = np.bincount(nearest, minlength=len(centers)).astype(np.float64)
    p = counts / max(counts.sum(), 1.0)
    dist2 = ((centers[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
    smoothed = np.exp(-dist2 / (2 * sigma**2)) @ p
    return smoothed / smoothed.sum()


def rebalance_weights(prior: np.ndarray, lam: float = 0.5) -> torch.Tensor:
    """w = ((1 - lam) * prior + lam / K)^-1, normalised so that sum(prior * w) = 1."""
    K = len(prior)
    w = 1.0 / ((1.0 - lam) * prior + lam / K)
    w = w / float((prior * w).sum())
    return torch.from_numpy(w.astype(np.float32))


class L1Loss(nn.Module):
    def forward(self, logits, pred, L, ab):
        return F.l1_loss(pred.float(), ab.float())


class PatchDiscriminator(nn.Module):
    """pix2pix 70x70 PatchGAN on (L, ab): C64-C128-C256-C512, one logit per patch."""

    def __init__(self, width: int = 64):
        super().__init__()

        def block(cin: int, cout: int, stride: int, norm: bool = True) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(cin, cout, 4, stride, 1, bias=not norm)]
            if norm:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            return layers

        self.net = nn.Sequential(
            *block(3, width, 2, norm=False),
            *block(width, width * 2, 2),
            *block(width * 2, width * 4, 2),
            *block(width * 4, width * 8, 1),
            nn.Conv2d(width * 8, 1, 4, 1, 1),
        )

    def forward(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([L, ab], dim=1))


class Adversary:
    """The adversarial part of pix2pix beside its discriminator: the generator's cGAN term and the
    discriminator's own step (real pairs against the generator's detached output), with its optimizer."""

    def __init__(self, lr: float, device: torch.device):
        self.disc = PatchDiscriminator().to(device)
        self.opt = torch.optim.Adam(self.disc.parameters(), lr=lr, betas=(0.5, 0.999))
        self.bce = nn.BCEWithLogitsLoss()

    def generator_term(self, L: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        judged = self.disc(L, pred)  # once: a second call would update the batch-norm statistics twice
        return self.bce(judged, torch.ones_like(judged))

    def step(self, L: torch.Tensor, ab: torch.Tensor, pred: torch.Tensor, autocast) -> None:
        with autocast():
            real, fake = self.disc(L, ab), self.disc(L, pred.detach())
            loss = 0.5 * (self.bce(real, torch.ones_like(real)) + self.bce(fake, torch.zeros_like(fake)))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    def state(self) -> dict:
        return {"discriminator": self.disc.state_dict(), "discriminator_optimizer": self.opt.state_dict()}

    def load(self, state: dict) -> None:
        if "discriminator" in state:
            self.disc.load_state_dict(state["discriminator"])
            self.opt.load_state_dict(state["discriminator_optimizer"])


def class_weights_for(ds: FrameDataset, cfg: TrainConfig, max_frames: int = 4000) -> torch.Tensor:
    """Rebalancing weights from the ab prior measured on the TRAINING split (every 4th pixel)."""
    step = max(1, len(ds) // max_frames)
    samples = [ds.raw(i)[1][:, ::4, ::4].reshape(2, -1).T for i in range(0, len(ds), step)]
    prior = bin_prior(np.concatenate(samples), cfg.bin_grid, cfg.soft_sigma)
    return rebalance_weights(prior, cfg.rebalance_lambda)


class Loss:
    """A loss as fit() drives it: `criterion` scores a prediction in training and validation; the rest are the
    loss's own parts of a run, which do nothing here. A loss that needs more says so in its subclass."""

    single_process = ""  # why the loss cannot be split across torchrun's processes ("": it can)
    mse_term = False  # whether `mse_weight` adds its weighted MSE term

    def __init__(self, cfg: TrainConfig, train_ds: FrameDataset | None = None, device: str = "cpu"):
        self.cfg = cfg
        self.stride = 1  # head and loss on every stride-th pixel
        self.betas = (cfg.beta1, cfg.beta2)  # the generator's Adam betas
        self.criterion = self.criterion_for(cfg, **self.needs(train_ds)).to(device)

    @staticmethod
    def term(cfg: TrainConfig, **kwargs) -> nn.Module:
        """The loss's own term: loss(logits, pred, L, ab) -> scalar."""
        raise NotImplementedError

    @classmethod
    def criterion_for(cls, cfg: TrainConfig, **kwargs) -> nn.Module:
        mse = [(cfg.mse_weight, MSELoss())] if cls.mse_term and cfg.mse_weight else []
        pearson = [(cfg.pearson_weight, PearsonTerm())] if cfg.pearson_weight else []
        return Weighted(cls.term(cfg, **kwargs), mse, first=pearson)

    def needs(self, train_ds: FrameDataset | None) -> dict[str, Any]:
        """What the term takes from the training split (keyword arguments of `term`)."""
        return {}

    def start_epoch(self, epoch: int) -> bool:
        """Called as each epoch starts; True where the loss's scale changes from this epoch on."""
        return False

    def __call__(self, logits, pred, L, ab) -> torch.Tensor:
        """The loss the generator's step minimises."""
        return self.criterion(logits, pred, L, ab)

    def after_step(self, L: torch.Tensor, ab: torch.Tensor, pred: torch.Tensor, autocast) -> None:
        """The loss's own step, after the generator's."""

    def state(self) -> dict[str, Any]:
        """What last.pt keeps of the loss's own parts, so a resumed run goes on as an uninterrupted one."""
        return {}

    def load(self, state: dict[str, Any]) -> None:
        pass

    def tune_decoding(self, model: UNet, val_ds: FrameDataset) -> dict[str, Any] | None:
        """The decoding chosen on validation for the best model (set on its config), or None."""
        return None


class MSE(Loss):
    term = staticmethod(lambda cfg, **kw: MSELoss())


class PerceptualVGG16(Loss):
    mse_term = True
    term = staticmethod(
        lambda cfg, **kw: Perceptual("vgg16", cfg.backbone_weights or None, cfg.random_backbone)
    )


class PerceptualResNet50(Loss):
    mse_term = True
    term = staticmethod(
        lambda cfg, **kw: Perceptual("resnet50", cfg.backbone_weights or None, cfg.random_backbone)
    )


class Bins(Loss):
    """Rebalanced by the training split's colours, on a pixel subgrid (4x cheaper at stride 2); at the end, the
    decoding that turns its bins into colour is tuned on validation."""

    mse_term = True

    def __init__(self, cfg: TrainConfig, train_ds: FrameDataset | None = None, device: str = "cpu"):
        super().__init__(cfg, train_ds, device)
        self.stride = cfg.bins_stride

    @staticmethod
    def term(cfg: TrainConfig, class_weights: torch.Tensor | None = None, **kwargs) -> nn.Module:
        return BinsLoss(cfg.bin_grid, cfg.soft_sigma, class_weights)

    def needs(self, train_ds: FrameDataset | None) -> dict[str, Any]:
        return {"class_weights": class_weights_for(train_ds, self.cfg)} if train_ds is not None else {}

    def tune_decoding(self, model: UNet, val_ds: FrameDataset) -> dict[str, Any] | None:
        cfg = self.cfg
        if not cfg.tune_decoding:
            return None
        return decoding.tune_decoding(
            model,
            val_ds,
            cfg.temperature_candidates,
            cfg.min_colourfulness_ratio,
            gains=cfg.chroma_gain_candidates,
            mirror=cfg.tune_flip_average,
            smoothings=cfg.ab_smoothing_candidates,
        )


class Adversarial(Loss):
    """pix2pix: L1 alone for `gan_pretrain_epochs`, then cGAN + gan_l1_lambda * L1 with the discriminator's step
    after each of the generator's (both with pix2pix's betas)."""

    single_process = "its discriminator is not distributed"

    def __init__(self, cfg: TrainConfig, train_ds: FrameDataset | None = None, device: str = "cpu"):
        super().__init__(cfg, train_ds, device)
        self.betas = (0.5, 0.999)
        self.adversary = Adversary(cfg.lr, device)
        self.gan_on = False

    term = staticmethod(lambda cfg, **kw: L1Loss())

    def start_epoch(self, epoch: int) -> bool:
        self.gan_on = epoch >= self.cfg.gan_pretrain_epochs
        return epoch == self.cfg.gan_pretrain_epochs  # validation losses compare only within one phase

    def __call__(self, logits, pred, L, ab) -> torch.Tensor:
        loss = self.criterion(logits, pred, L, ab)
        if not self.gan_on:
            return loss
        return self.cfg.gan_l1_lambda * loss + self.adversary.generator_term(L, pred)

    def after_step(self, L: torch.Tensor, ab: torch.Tensor, pred: torch.Tensor, autocast) -> None:
        if self.gan_on:
            self.adversary.step(L, ab, pred, autocast)

    def state(self) -> dict[str, Any]:
        return self.adversary.state()

    def load(self, state: dict[str, Any]) -> None:
        self.adversary.load(state)


LOSSES: dict[str, type[Loss]] = {
    "mse": MSE,
    "perceptual-vgg16": PerceptualVGG16,
    "perceptual-resnet50": PerceptualResNet50,
    "bins": Bins,
    "adversarial": Adversarial,
}


def create_loss(cfg: TrainConfig, **kwargs) -> nn.Module:
    """The criterion of `cfg.loss` (its term and weighted terms); kwargs go to its term."""
    if cfg.loss not in LOSSES:
        raise KeyError(f"unknown loss {cfg.loss!r}; known: {sorted(LOSSES)}")
    return LOSSES[cfg.loss].criterion_for(cfg, **kwargs)
