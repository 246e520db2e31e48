"""The thesis U-Net: its parameter count, and tiny widths at several input sizes."""

import pytest
import torch

from colorization.models import UNet, UNetConfig, count_parameters, create_model


def test_default_parameter_count_matches_the_thesis():
    assert count_parameters(UNet()) == 4_711_714


@pytest.mark.parametrize("size", [(16, 16), (32, 48), (64, 80)])
@pytest.mark.parametrize("width", [2, 4])
def test_tiny_widths_keep_shapes_and_range(width, size):
    model = UNet(UNetConfig(width=width)).eval()
    x = torch.rand(2, 1, *size)
    with torch.no_grad():
        ab = model(x)
    assert ab.shape == (2, 2, *size)
    assert ab.abs().max() <= 1.0


def test_bins_head_returns_ab_and_logits():
    model = UNet(UNetConfig(width=4, head="bins")).eval()
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        logits, ab = model.logits(x), model(x)
    assert logits.shape[1] == len(model.bin_centers) and ab.shape == (1, 2, 32, 32)
    assert ab.abs().max() <= 1.0


def test_unknown_head_and_arch_fail_loudly():
    with pytest.raises(ValueError, match="head"):
        UNet(UNetConfig(head="nope"))
    with pytest.raises(KeyError, match="unknown architecture"):
        create_model("resnet9000")


def test_gradients_reach_the_first_layer():
    torch.manual_seed(0)  # unseeded, about 1 draw in 6 of this 2-wide net has all first-level ReLUs dead
    model = UNet(UNetConfig(width=2))
    model(torch.rand(1, 1, 16, 16)).square().mean().backward()
    assert model.down[0][0].weight.grad.abs().sum() > 0


def test_global_context_lets_a_far_corner_change_the_colour():
    torch.manual_seed(0)
    plain, ctx = UNet(UNetConfig(width=4)), UNet(UNetConfig(width=4, context=True))
    ctx.load_state_dict(plain.state_dict(), strict=False)
    x = torch.rand(1, 1, 192, 192)
    with torch.no_grad():
        assert torch.equal(ctx(x), plain(x))  # the fusion starts at zero: fine-tuning starts where it was
        for layer in ctx.context:
            if isinstance(layer, torch.nn.Linear):
                torch.nn.init.normal_(layer.weight, std=3.0)
        y = x.clone()
        y[..., 128:, :] = 0.0  # black out the bottom third
        changed = lambda m: float((m(x)[..., :16, :16] - m(y)[..., :16, :16]).abs().max())  # noqa: E731
        assert changed(plain) == 0.0  # ~100 px of receptive field: the top rows cannot see it
        assert changed(ctx) > 1e-6  # any influence at all: through the context path only


def test_position_channels_follow_the_box_a_crop_came_from():
    model = UNet(UNetConfig(width=2, coords=True))
    L = torch.rand(1, 1, 64, 96)
    whole = model._input(L, None)  # the whole frame: y and x run over [-1, 1]
    assert whole.shape == (1, 3, 64, 96) and torch.equal(whole[:, :1], L)
    assert float(whole[0, 1, 0, 0]) == pytest.approx(-1 + 1 / 64) and float(
        whole[0, 2, 0, -1]
    ) == pytest.approx(1 - 1 / 96)
    top, left, size = 16, 32, 32  # a crop, described the way FrameDataset does it
    box = torch.tensor(
        [[2 * top / 64 - 1, 2 * (top + size) / 64 - 1, 2 * left / 96 - 1, 2 * (left + size) / 96 - 1]]
    )
    crop = model._input(L[..., top : top + size, left : left + size], box)
    assert torch.allclose(crop, whole[..., top : top + size, left : left + size], atol=1e-6)


def test_position_channels_let_the_same_patch_take_another_colour_elsewhere():
    torch.manual_seed(0)
    model = UNet(UNetConfig(width=4, coords=True))
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        high = model(x, torch.tensor([[-1.0, -0.5, -1.0, 1.0]]))  # the top strip of a frame
        low = model(x, torch.tensor([[0.5, 1.0, -1.0, 1.0]]))  # the same pixels at the bottom
    assert float((high - low).abs().max()) > 1e-4


@pytest.mark.parametrize("path_name", ["prior", "texture"])
def test_per_pixel_path_starts_at_zero_and_the_loss_subgrid_matches_the_full_output(path_name):
    torch.manual_seed(1)
    base_args = dict(width=4, head="bins", coords=True, prior=path_name == "texture")
    base = UNet(UNetConfig(**base_args))
    with_path = UNet(UNetConfig(**{**base_args, path_name: True}))
    with_path.load_state_dict(base.state_dict(), strict=False)
    x = torch.rand(2, 1, 32, 48)
    with torch.no_grad():
        assert torch.equal(with_path.logits(x), base.logits(x))  # zero-initialised: nothing changes yet
        torch.nn.init.normal_(getattr(with_path, path_name)[4].weight)
        full = with_path.logits(x)
        assert not torch.equal(full, base.logits(x))
        assert torch.allclose(with_path.logits(x, stride=2), full[..., ::2, ::2], atol=1e-5)


def test_texture_stats_read_local_statistics():
    # the statistics: a flat picture has no spread and no gradient; a striped one has both, its mean is the same
    flat = torch.full((1, 1, 32, 32), 0.5)
    stripes = torch.zeros(1, 1, 32, 32)
    stripes[..., ::2] = 1.0
    s_flat, s_stripes = UNet.texture_stats(flat), UNet.texture_stats(stripes)
    assert s_flat.shape == (1, 1 + 2 * 4 + 4, 32, 32)
    assert torch.allclose(s_flat[:, 1:9:2], torch.full_like(s_flat[:, 1:9:2], 0.5))  # local means
    assert float(s_flat[:, 2:9:2].abs().max()) < 1e-3 and float(s_flat[:, 9:11].abs().max()) == 0.0
    inner = (
        ...,
        slice(16, 17),
        slice(16, 17),
    )  # away from the borders: a 7 px window holds 3 or 4 bright columns
    assert 1.5 < float(s_stripes[:, 4][inner].min()) and float(s_stripes[:, 9][inner].min()) > 3.0
    assert float(s_stripes[:, 10].abs().max()) == 0.0  # no vertical change in vertical stripes
    assert abs(float(s_stripes[0, 11, 0, 0]) - 0.5) < 1e-6  # the picture's mean lightness


def _random_head(model: UNet) -> UNet:
    """A bins model whose zero-started paths get random weights, so every path shapes the output."""
    torch.manual_seed(3)
    with torch.no_grad():
        for p in model.parameters():
            if not p.abs().sum():
                p.normal_(0, 0.1)
    return model.eval()


def test_mirror_averaging_makes_the_output_mirror_symmetric():
    config = dict(width=4, head="bins", coords=True, context=True, prior=True, texture=True)
    plain = _random_head(UNet(UNetConfig(**config)))
    mirrored = UNet(UNetConfig(**config, flip_average=True)).eval()
    mirrored.load_state_dict(plain.state_dict())
    x = torch.rand(2, 1, 32, 48)
    with torch.no_grad():
        assert not torch.allclose(plain(x.flip(-1)), plain(x).flip(-1), atol=1e-4)  # the network alone is not
        assert torch.allclose(mirrored(x.flip(-1)), mirrored(x).flip(-1), atol=1e-5)
        halves = (plain.logits(x) + plain.logits(x.flip(-1)).flip(-1)) / 2
        assert torch.allclose(mirrored(x), plain.decode(halves), atol=1e-5)
        # a crop's mirror image lies mirrored in the frame: the crop's box follows
        box = torch.tensor([[-1.0, 0.0, -0.5, 0.5], [0.0, 1.0, 0.2, 1.0]])
        mirror_box = torch.tensor([[-1.0, 0.0, -0.5, 0.5], [0.0, 1.0, -1.0, -0.2]])
        assert torch.allclose(mirrored(x.flip(-1), mirror_box), mirrored(x, box).flip(-1), atol=1e-5)


def test_chroma_gain_scales_the_colour_and_stays_in_range():
    model = _random_head(UNet(UNetConfig(width=4, head="bins", prior=True)))
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        ab = model(x)
        model.config.chroma_gain = 1.5
        assert torch.allclose(model(x), (1.5 * ab).clamp(-1, 1), atol=1e-6)
        model.config.chroma_gain = 1000.0
        vivid = model(x)
    assert float(vivid.abs().max()) == 1.0 and float(ab.abs().max()) < 1.0


def test_ab_smoothing_removes_speckle_and_keeps_flat_colour():
    from colorization.models import smooth_ab

    torch.manual_seed(0)
    speckle = torch.randn(1, 2, 40, 56) * 0.2
    smooth = smooth_ab(speckle, 3.0)
    assert smooth.shape == speckle.shape and float(smooth.std()) < 0.3 * float(speckle.std())
    assert abs(float(smooth.mean() - speckle.mean())) < 0.01  # a blur moves no colour in or out
    flat = torch.full((1, 2, 16, 16), 0.3)
    assert torch.allclose(
        smooth_ab(flat, 8.0), flat, atol=1e-6
    )  # a wide blur on a small frame: borders mirrored
    assert smooth_ab(speckle, 0.0) is speckle

    model = _random_head(UNet(UNetConfig(width=4, head="bins", prior=True, chroma_gain=1.3)))
    x = torch.rand(1, 1, 32, 48)
    with torch.no_grad():
        sharp = model(x)
        model.config.ab_smoothing = 2.0
        blurred = model(x)
    assert blurred.shape == sharp.shape and float(blurred.abs().max()) <= 1.0
    # the colour of neighbouring pixels differs less once smoothed; the picture's mean colour stays
    assert float(blurred.diff(dim=-1).abs().mean()) < 0.5 * float(sharp.diff(dim=-1).abs().mean())
    assert torch.allclose(blurred.mean((2, 3)), sharp.mean((2, 3)), atol=0.03)
