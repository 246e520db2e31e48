"""Every loss gives a finite value with a gradient on a tiny model; the bins targets are what Zhang et al. say."""

from __future__ import annotations

import copy
from contextlib import nullcontext

import numpy as np
import pytest
import torch

from colorization.models import UNet, UNetConfig
from training.config import TrainConfig
from training.losses import (
    LOSSES,
    Adversarial,
    Adversary,
    BackboneMissing,
    BinsLoss,
    PatchDiscriminator,
    bin_prior,
    create_loss,
    rebalance_weights,
    within_image_pearson,
)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_each_loss_is_finite_with_a_gradient(name):
    torch.manual_seed(0)
    head = "bins" if name == "bins" else "tanh"
    cfg = TrainConfig(loss=name, head=head, width=4, random_backbone=True, mse_weight=0.1)
    model = UNet(UNetConfig(width=4, head=head))
    criterion = create_loss(cfg)
    L = torch.rand(2, 1, 32, 32)
    ab = (torch.rand(2, 2, 32, 32) - 0.5) * 0.6
    logits = model.logits(L)
    loss = criterion(logits, model.decode(logits), L, ab)
    loss.backward()
    assert torch.isfinite(loss) and float(loss.detach()) > 0
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)


@pytest.mark.parametrize("name", ["perceptual-vgg16", "perceptual-resnet50"])
def test_perceptual_losses_need_real_backbone_weights(name, tmp_path):
    with pytest.raises(BackboneMissing, match="backbone_weights"):
        create_loss(TrainConfig(loss=name))
    with pytest.raises(BackboneMissing, match="not found"):
        create_loss(TrainConfig(loss=name, backbone_weights=str(tmp_path / "vgg16-397923af.pth")))


def test_perceptual_loss_is_zero_for_the_truth():
    torch.manual_seed(0)
    criterion = create_loss(TrainConfig(loss="perceptual-vgg16", random_backbone=True))
    L, ab = torch.rand(1, 1, 32, 32), (torch.rand(1, 2, 32, 32) - 0.5) * 0.4
    assert float(criterion(None, ab, L, ab)) == pytest.approx(0.0, abs=1e-7)
    assert float(criterion(None, ab * 0, L, ab)) > 0


def test_bins_soft_encoding_peaks_on_the_true_bin():
    loss = BinsLoss()
    centre = loss.centers[100]  # a bin centre, Lab units
    ab = (centre / 128.0).view(1, 2, 1, 1)
    idx, w, nearest = loss.encode(ab)
    assert int(nearest) == 100
    assert float(w.sum()) == pytest.approx(1.0)
    # sigma 5 on a grid of 10: the 4 nearest neighbours get exp(-100 / 50) each, the rest (kept: 5) nothing
    assert float(w[0, 0]) == pytest.approx(1 / (1 + 4 * np.exp(-2.0)), rel=1e-4)


def test_rebalancing_weights_favour_rare_colours_and_are_normalised():
    rng = np.random.default_rng(0)
    samples = np.concatenate([rng.normal(0, 3, (5000, 2)), rng.normal([40, 40], 3, (50, 2))])
    prior = bin_prior(samples)
    w = rebalance_weights(prior, 0.5).numpy()
    assert float((prior * w).sum()) == pytest.approx(1.0, rel=1e-5)
    centers = BinsLoss().centers.numpy()
    gray_bin = int(np.argmin((centers**2).sum(1)))
    rare_bin = int(np.argmin(((centers - 40) ** 2).sum(1)))
    assert w[rare_bin] > 3 * w[gray_bin]


def test_prior_counts_out_of_gamut_pixels_where_the_loss_puts_them():
    loss = BinsLoss()
    lut = loss.lut.numpy()
    # an integer ab whose own grid cell is out of gamut but which the loss maps to a valid neighbour
    v = np.arange(-110, 111)
    a, b = np.meshgrid(v, v, indexing="ij")
    cell = lut[np.round((a + 110) / 10).astype(int), np.round((b + 110) / 10).astype(int)]
    ab = torch.tensor([[float(a[cell < 0][0]), float(b[cell < 0][0])]])
    _, _, nearest = loss.encode((ab / 128.0).view(1, 2, 1, 1))
    prior = bin_prior(np.repeat(ab.numpy(), 10, axis=0), sigma=0.01)  # tiny sigma: no smoothing
    assert prior.sum() == pytest.approx(1.0)
    assert int(np.argmax(prior)) == int(nearest) and prior.max() == pytest.approx(1.0, abs=1e-6)


def test_bins_loss_is_the_plain_weighted_mean():
    torch.manual_seed(0)
    logits, ab = torch.randn(2, 254, 8, 8), (torch.rand(2, 2, 8, 8) - 0.5) * 0.6
    plain = float(BinsLoss()(logits, None, None, ab))
    doubled = float(BinsLoss(class_weights=torch.full((254,), 2.0))(logits, None, None, ab))
    # a batch is not renormalised by its own weight sum: weights that double double the loss
    assert doubled == pytest.approx(2 * plain, rel=1e-5)


def test_patch_discriminator_scores_patches():
    d = PatchDiscriminator(width=8)
    out = d(torch.rand(2, 1, 64, 64), torch.rand(2, 2, 64, 64))
    assert out.shape == (2, 1, 6, 6)


def test_adversary_learns_to_tell_real_from_generated_and_resumes_exactly():
    """The discriminator's own step, alone: it moves only its own weights, learns to score true colour above a
    generator's, which raises the generator's cGAN term; its state restores a run bit for bit."""
    torch.manual_seed(0)
    generator = torch.nn.Conv2d(1, 2, 3, padding=1)
    L = torch.rand(4, 1, 32, 32)
    ab = torch.nn.functional.avg_pool2d(torch.rand(4, 2, 32, 32) - 0.5, 5, 1, 2)
    pred = torch.tanh(generator(L)) * 0.1  # dull, wrong colour
    adversary = Adversary(lr=2e-3, device=torch.device("cpu"))
    before = adversary.generator_term(L, pred)
    before.backward(retain_graph=True)
    assert generator.weight.grad is not None and float(generator.weight.grad.abs().sum()) > 0
    generator.zero_grad(set_to_none=True)

    start = {k: v.clone() for k, v in adversary.disc.state_dict().items()}
    for _ in range(15):
        adversary.step(L, ab, pred, nullcontext)
    assert generator.weight.grad is None  # the generator's output is detached from the discriminator's step
    assert any(not torch.equal(start[k], v) for k, v in adversary.disc.state_dict().items())
    adversary.disc.eval()
    with torch.no_grad():
        assert float(adversary.disc(L, ab).mean()) > float(adversary.disc(L, pred).mean())
        assert float(adversary.generator_term(L, pred)) > float(before)
    adversary.disc.train()

    resumed = Adversary(lr=2e-3, device=torch.device("cpu"))
    resumed.load(copy.deepcopy(adversary.state()))  # as last.pt holds it: a copy
    for a in (adversary, resumed):
        torch.manual_seed(1)
        a.step(L, ab, pred, nullcontext)
    for key, value in adversary.disc.state_dict().items():
        assert torch.equal(value, resumed.disc.state_dict()[key]), key


def test_the_adversarial_loss_adds_the_gan_after_its_l1_epochs():
    cfg = TrainConfig(loss="adversarial", gan_pretrain_epochs=1, gan_l1_lambda=100.0)
    loss = Adversarial(cfg)
    assert loss.betas == (0.5, 0.999) and loss.single_process
    torch.manual_seed(0)
    L, ab, pred = torch.rand(2, 1, 32, 32), torch.rand(2, 2, 32, 32) - 0.5, torch.rand(2, 2, 32, 32) - 0.5
    l1 = float(loss.criterion(None, pred, L, ab))
    assert loss.start_epoch(0) is False and float(loss(None, pred, L, ab)) == l1  # L1 alone
    start = {k: v.clone() for k, v in loss.adversary.disc.state_dict().items()}
    loss.after_step(L, ab, pred, nullcontext)  # no discriminator step yet
    assert all(torch.equal(start[k], v) for k, v in loss.adversary.disc.state_dict().items())
    assert loss.start_epoch(1) is True  # the loss changes scale here: a new phase of validation losses
    judged = loss.adversary.disc(L, pred)
    gan = float(loss.adversary.bce(judged, torch.ones_like(judged)))
    assert float(loss(None, pred, L, ab)) == pytest.approx(100.0 * l1 + gan, rel=1e-5)
    loss.after_step(L, ab, pred, nullcontext)
    assert any(not torch.equal(start[k], v) for k, v in loss.adversary.disc.state_dict().items())
    assert loss.start_epoch(2) is False and set(loss.state()) == {"discriminator", "discriminator_optimizer"}


def _lab(L: torch.Tensor, ab: torch.Tensor) -> np.ndarray:
    """One batch item (L / 100, ab / 128) -> an (H, W, 3) Lab array for colorization.metrics."""
    return np.concatenate([L[0].numpy()[..., None] * 100, ab.numpy().transpose(1, 2, 0) * 128], -1)


def test_training_pearson_matches_the_metric_the_product_reports():
    from colorization.metrics import ab_pearson

    torch.manual_seed(3)
    L = torch.rand(3, 1, 40, 40)  # about half the pixels in the 25-75 band
    ab = torch.nn.functional.avg_pool2d((torch.rand(3, 2, 40, 40) - 0.5), 5, 1, 2)  # smooth, varied colour
    pred = 0.3 * ab + 0.02 * torch.randn(3, 2, 40, 40)  # weaker, noisy, but in the right places
    pred[2] = 0.1  # a constant tint: the metric scores it 0
    corr, counts = within_image_pearson(pred, ab, L)
    for i in range(3):
        expected = ab_pearson(_lab(L[i], pred[i]), _lab(L[i], ab[i]))
        assert float((corr[i] * counts[i]).mean()) == pytest.approx(expected, abs=0.02), i
    assert float(corr[:2].min()) > 0.5 and float(corr[2].abs().max()) < 1e-3

    ab[1, 0] = 0.2  # a flat true channel does not count
    assert within_image_pearson(pred, ab, L)[1][1].tolist() == [False, True]


def test_pearson_term_is_added_with_its_weight():
    torch.manual_seed(4)
    L = torch.rand(2, 1, 24, 24)
    ab = torch.nn.functional.avg_pool2d(torch.rand(2, 2, 24, 24) - 0.5, 3, 1, 1)
    other = torch.nn.functional.avg_pool2d(torch.rand(2, 2, 24, 24) - 0.5, 3, 1, 1)
    plain = create_loss(TrainConfig(loss="mse"))
    with_term = create_loss(TrainConfig(loss="mse", pearson_weight=0.5))

    wrong = -ab  # colour in exactly the wrong places: correlation -1, the term is 0.5 * (1 - -1)
    assert float(with_term(None, wrong, L, ab)) == pytest.approx(
        float(plain(None, wrong, L, ab)) + 1.0, abs=1e-4
    )

    pred = (other - 0.5 * ab).requires_grad_()  # partly wrong
    before = float(within_image_pearson(pred.detach(), ab, L)[0].mean())
    with_term(None, pred, L, ab).backward()
    step = 0.02 * pred.grad / pred.grad.abs().max()  # a small step: at most 0.02 (2.6 ab units) per pixel
    after = float(within_image_pearson(pred.detach() - step, ab, L)[0].mean())
    assert after > before + 0.05  # its gradient turns the colour towards the right places
