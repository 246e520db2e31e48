"""Pretrained encoders for the U-Net: a torchvision ResNet in place of the thesis's plain convolutions (as
DeOldify and DDColor build on ImageNet backbones). ImageNet knowledge of what things are is what a CPU-trained
colorizer lacks most; the weights are never downloaded: they are read from a local torchvision-format file
(`load_imagenet_weights`), and a model rebuilt from one of our checkpoints gets them from the checkpoint.

The encoder returns features at strides 2, 4, 8, 16 and 32 of the input; the U-Net adds a full-resolution
stem and decodes with its own transposed convolutions and skip merges.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

# name -> (torchvision constructor, channels at strides 2, 4, 8, 16, 32, the weights file torchvision saves)
RESNETS = {
    "resnet18": ("resnet18", (64, 64, 128, 256, 512), "resnet18-f37072fd.pth"),
    "resnet34": ("resnet34", (64, 64, 128, 256, 512), "resnet34-b627a593.pth"),
    "resnet50": ("resnet50", (64, 256, 512, 1024, 2048), "resnet50-11ad3fa6.pth"),
}
ENCODERS = ("plain", *RESNETS)  # "plain": the thesis's one 3x3 convolution per level
IMAGENET_GRAY = (
    0.449,
    0.226,
)  # the mean and spread of ImageNet's channel means: L/100 is normalized with them
HOW_TO_GET = (
    "on a machine with internet: python -c \"import torchvision; torchvision.models.{ctor}(weights='DEFAULT')\" "
    "saves it as ~/.cache/torch/hub/checkpoints/{file}; copy that file here and name it in encoder_weights"
)


class ResNetEncoder(nn.Module):
    """A torchvision ResNet without its classifier, on `in_channels` inputs (L first)."""

    def __init__(self, name: str, in_channels: int):
        super().__init__()
        import torchvision

        ctor, self.channels, _ = RESNETS[name]
        net = getattr(torchvision.models, ctor)(weights=None)
        net.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu)
        self.pool = net.maxpool
        self.layers = nn.ModuleList([net.layer1, net.layer2, net.layer3, net.layer4])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        mean, std = IMAGENET_GRAY
        x = torch.cat([(x[:, :1] - mean) / std, x[:, 1:]], 1)
        out = [self.stem(x)]
        y = self.pool(out[0])
        for layer in self.layers:
            y = layer(y)
            out.append(y)
        return out


def load_imagenet_weights(encoder: ResNetEncoder, name: str, path: str | Path | None) -> None:
    """Copy a torchvision ImageNet state dict into `encoder`. The first convolution's three colour filters are
    summed into the lightness filter (a gray picture has R = G = B), and the extra input channels (position,
    hints) start at zero. A missing file fails with where to put it."""
    ctor, _, file = RESNETS[name]
    if not path or not Path(path).is_file():
        raise FileNotFoundError(
            f"encoder {name!r} needs its ImageNet weights ({file}), "
            + (f"not found at {path}; " if path else "and encoder_weights names no file; ")
            + HOW_TO_GET.format(ctor=ctor, file=file)
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    conv1 = state.pop("conv1.weight")
    first = torch.zeros_like(encoder.stem[0].weight)
    first[:, 0] = conv1.sum(1)
    encoder.stem[0].weight.data.copy_(first)
    encoder.stem[1].load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("bn1.")})
    for i, layer in enumerate(encoder.layers, 1):
        prefix = f"layer{i}."
        layer.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
