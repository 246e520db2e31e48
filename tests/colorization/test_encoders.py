"""Pretrained encoders: a ResNet U-Net's shapes, ImageNet weights read from a local torchvision-format file, and
training that says what is missing when the file is not there."""

from __future__ import annotations

import pytest
import torch
import torchvision

from colorization.models import UNet, UNetConfig
from colorization.models.encoders import load_imagenet_weights


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_a_resnet_unet_takes_any_multiple_of_32_and_returns_ab(name):
    model = UNet(UNetConfig(encoder=name, head="bins", coords=True, hints=True, context=True, head_stride=2))
    assert model.multiple == 32
    with torch.no_grad():
        ab = model.eval()(torch.rand(2, 1, 64, 96), hints=torch.zeros(2, 3, 64, 96))
    assert ab.shape == (2, 2, 64, 96) and float(ab.abs().max()) <= 1.0


def test_imagenet_weights_load_from_a_torchvision_file_with_gray_first_filters(tmp_path):
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None)  # stands in for the ImageNet file
    path = tmp_path / "resnet18-f37072fd.pth"
    torch.save(reference.state_dict(), path)
    model = UNet(UNetConfig(encoder="resnet18", coords=True))
    load_imagenet_weights(model.encoder, "resnet18", path)
    first = model.encoder.stem[0].weight
    assert torch.allclose(first[:, 0], reference.conv1.weight.sum(1))  # R + G + B: what a gray picture sees
    assert float(first[:, 1:].abs().sum()) == 0  # position channels start at zero
    assert torch.equal(model.encoder.layers[3][1].conv2.weight, reference.layer4[1].conv2.weight)
    assert torch.equal(model.encoder.stem[1].running_var, reference.bn1.running_var)


def test_training_a_resnet_encoder_without_its_weights_says_where_to_put_them(tmp_path):
    from training.config import TrainConfig
    from training.train import build_model

    cfg = TrainConfig(encoder="resnet34", encoder_weights=str(tmp_path / "missing.pth"))
    with pytest.raises(ValueError) as caught:
        build_model(cfg)
    message = str(caught.value)
    assert "resnet34-b627a593.pth" in message and "missing.pth" in message and "torchvision.models" in message
    assert build_model(TrainConfig(encoder="resnet34", random_encoder=True)).config.encoder == "resnet34"
