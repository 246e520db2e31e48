"""The thesis U-Net (Table 1): L (N, 1, H, W) in [0, 1] -> ab (N, 2, H, W) in [-1, 1].

One 3x3 convolution per level, 32 -> 512 filters, transposed-convolution upsampling with skip
concatenation, a tanh head: 4,711,714 parameters at the default width. `width` scales every level so
tests can use tiny models. `head="bins"` swaps the 2-channel tanh for logits over quantized ab cells
(Zhang et al. 2016); its forward pass still returns ab in [-1, 1] (the annealed mean), so inference code
does not care which head a checkpoint has.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from colorization.color import AB_SCALE, ab_bin_centers
from colorization.models.encoders import ENCODERS, create_encoder

HINT_CHANNELS = 3  # hint a, hint b (normalized ab), mask (1 where a hint is)
SPREAD_CELLS = (4, 16)  # px cells over which the hint-spread path averages hints (plus the whole picture)
TEXTURE_WINDOWS = (3, 7, 15, 31)  # px at the network's input size (224 frames)


@dataclass
class UNetConfig:
    width: int = 32  # filters of the first level; level i has width * 2**i
    depth: int = 4  # number of 2x down-samplings (the thesis: 4, so 224 -> 14 at the bottleneck)
    head: str = "tanh"  # "tanh": ab regression (thesis) | "bins": classification over quantized ab
    bin_grid: float = 10.0  # ab cell size for head="bins"
    temperature: float = 0.38  # annealed-mean temperature for head="bins" (Zhang et al. use 0.38)
    # Global context: the bottleneck averaged over the whole image, through two linear layers, is added back at
    # every position (a fusion layer as in Iizuka et al. 2016 and Deep Koalarization, fed by the network's own
    # features instead of a pretrained classifier). One 3x3 convolution per level sees only ~60 px around a
    # pixel, so without it the network cannot tell a beach from a forest and paints every photo the same cast.
    context: bool = False
    # Position: two more input channels give each pixel its place in the whole frame (y and x in [-1, 1], as in
    # CoordConv, Liu et al. 2018), so the network can learn where colour tends to be (sky above, the subject in
    # the middle). Trained on crops, it is told where each crop lies (`box`); at inference the input is the frame.
    coords: bool = False
    # Prior: a small per-pixel network of the input channels alone (lightness, and position with coords) whose
    # output is added to the head's: a short path for what colour tends to go with a lightness at a place in the
    # frame, learnt in a few steps, next to the U-Net's slower-to-learn texture and context.
    prior: bool = False
    # Texture: another per-pixel network, added to the head's output like the prior, that sees local statistics
    # of lightness (mean and standard deviation over 3 to 31 px windows, gradient energy), the pixel's place (with
    # coords) and the picture's mean and spread of lightness. One 3x3 convolution per level learns texture
    # slowly; these fixed statistics tell foliage (dark, busy), sky (bright, smooth) and skin apart from the start.
    texture: bool = False
    # Decoding, chosen on validation when a model is shipped (training.decoding.tune_decoding):
    # mirror averaging: the output averages the logits of the picture and of its mirror image (mirrored back).
    # Colour that the network would put in a different place in the mirror image is noise; averaging it away
    # gives colour that varies more where the truth does (validation: within-image Pearson 0.10 -> 0.14), at
    # twice the network time and with paler colour, which `chroma_gain` restores.
    flip_average: bool = False
    chroma_gain: float = 1.0  # the decoded ab are multiplied by this (then clipped to the ab range)
    # ab smoothing: a Gaussian blur of the decoded ab (sigma in network pixels, before the gain; 0 = none).
    # The bins head leaves a speckle of colour that the truth does not have; on validation a sigma of 2-4 px
    # raised the within-image Pearson by 0.02 and the PSNR a little. Lightness keeps full resolution anyway.
    ab_smoothing: float = 0.0
    # Colour hints (Zhang et al. 2017, user-guided colorization): three more input channels of the U-Net body,
    # the hint's a and b (normalized) and a mask of where hints are (colorization.hints renders them). The
    # per-pixel paths (prior, texture) do not see them. Zero-initialised when added to a trained model, so it
    # starts exactly where that model was; trained on hints sampled from the true colour.
    hints: bool = False
    # Hint spread: a per-pixel network, added to the logits like the prior, that sees the hints' colour spread
    # over the picture at three scales (area means of the hints over 4 and 16 px cells and over the whole
    # picture, each with how many hints it holds) and the lightness. The U-Net body learns edge-aware spreading
    # slowly; this short path follows hints from the first steps. Needs `hints`; zero-initialised.
    hint_spread: bool = False
    # The head (and the prior and texture paths) run on every head_stride-th pixel per direction, as training's
    # loss does; the decoded ab are upsampled (bilinear) to the input size. Colour is smooth at that scale (the
    # full-resolution lightness keeps every edge), and the per-pixel layers cost 1/head_stride**2.
    head_stride: int = 1
    # The encoder: "plain" (the thesis's one 3x3 convolution per level), "efficientnet_lite0", "mobilenet_v2" or a
    # torchvision ResNet ("resnet18", "resnet34", "resnet50"; colorization.models.encoders), whose ImageNet weights
    # training reads from a local file. With a pretrained encoder the network downsamples 5 times (inputs are multiples of
    # 32), `width`/`depth` only shape the plain encoder, and the decoder also sees the input (lightness, position,
    # hints) averaged down to each level, so hints reach it even while the encoder is frozen.
    encoder: str = "plain"

    def to_dict(self) -> dict:
        return asdict(self)


def _box_mean(x: torch.Tensor, k: int) -> torch.Tensor:
    """Mean over a k x k window around each pixel (the part inside the picture at the borders), as two 1-D
    passes: the same as avg_pool2d(x, k, 1, k // 2, count_include_pad=False) at 2k instead of k*k operations."""
    x = F.avg_pool2d(x, (k, 1), 1, (k // 2, 0), count_include_pad=False)
    return F.avg_pool2d(x, (1, k), 1, (0, k // 2), count_include_pad=False)


def scale_chroma(ab: torch.Tensor, gain: float) -> torch.Tensor:
    """Normalized ab times `gain`, clipped to the ab range [-1, 1] (UNetConfig.chroma_gain)."""
    return ab if gain == 1.0 else (ab * gain).clamp(-1.0, 1.0)


def smooth_ab(ab: torch.Tensor, sigma: float) -> torch.Tensor:
    """(N, 2, H, W) blurred by a Gaussian of `sigma` pixels (separable, mirrored at the borders); 0 = unchanged."""
    if sigma <= 0:
        return ab
    radius = max(1, min(int(math.ceil(3 * sigma)), ab.shape[-2] - 1, ab.shape[-1] - 1))
    taps = torch.arange(-radius, radius + 1, device=ab.device, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(ab.dtype)
    c = ab.shape[1]
    out = F.pad(ab, (radius, radius, 0, 0), mode="reflect")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    out = F.pad(out, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(out, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _pixel_net(cin: int, width: int, cout: int) -> nn.Sequential:
    """A per-pixel network (three 1x1 convolutions) whose output layer starts at zero, so adding it to a trained
    model changes nothing until fine-tuning moves it (the prior and texture paths)."""
    net = nn.Sequential(
        nn.Conv2d(cin, width, 1),
        nn.ReLU(inplace=True),
        nn.Conv2d(width, width, 1),
        nn.ReLU(inplace=True),
        nn.Conv2d(width, cout, 1),
    )
    nn.init.zeros_(net[4].weight)
    nn.init.zeros_(net[4].bias)
    return net


# pretrained encoders: (the full-resolution stem's width, the decoder's widths at strides 1, 2, 4, 8, 16). The
# ResNets' decoder mirrors their features; EfficientNet-Lite0's are thin (16-40 channels at strides 2-8), so its
# decoder is wider there and narrow at full resolution, where the head only reads every 2nd pixel.
DECODER_WIDTHS = {
    "resnet": ((32,), (32, 64, 64, 128, 256)),
    "efficientnet_lite0": ((16,), (16, 48, 64, 96, 128)),
    "mobilenet_v2": ((16,), (16, 48, 64, 96, 128)),  # thin features too (16-32 channels at strides 2-8)
}


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True))


class UNet(nn.Module):
    def __init__(self, config: UNetConfig | None = None):
        super().__init__()
        self.config = config = config or UNetConfig()
        if config.head not in ("tanh", "bins"):
            raise ValueError(f"unknown U-Net head {config.head!r}; known: 'tanh', 'bins'")
        if config.head_stride < 1:
            raise ValueError(f"head_stride {config.head_stride} must be 1 or more")
        if config.encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {config.encoder!r}; known: {list(ENCODERS)}")
        in_channels = 3 if config.coords else 1  # L (+ y, x): what the per-pixel paths see
        body_channels = in_channels + (HINT_CHANNELS if config.hints else 0)  # (+ hint a, b, mask)
        if config.encoder == "plain":
            # feature widths at strides 1, 2, ..., 2**depth; the decoder mirrors them
            widths = [config.width * 2**i for i in range(config.depth + 1)]
            self.down = nn.ModuleList([_conv(body_channels, widths[0])])
            self.down.extend(_conv(widths[i - 1], widths[i]) for i in range(1, config.depth + 1))
            self.pool = nn.MaxPool2d(2)
            skips, decoder, guide = widths[:-1], widths[:-1], 0
        else:  # a full-resolution stem, then the encoder's features at strides 2 to 32
            skips, decoder = DECODER_WIDTHS.get(config.encoder, DECODER_WIDTHS["resnet"])
            self.stem = _conv(body_channels, skips[0])
            self.encoder = create_encoder(config.encoder, body_channels)
            skips = [skips[0], *self.encoder.channels[:-1]]
            widths = [*decoder, self.encoder.channels[-1]]
            guide = body_channels
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for i in range(len(widths) - 1, 0, -1):  # from the bottleneck up to full resolution
            self.up.append(
                nn.ConvTranspose2d(widths[i], widths[i - 1], 3, stride=2, padding=1, output_padding=1)
            )
            self.merge.append(_conv(widths[i - 1] + skips[i - 1] + (guide if i > 1 else 0), widths[i - 1]))
        self.refine = _conv(widths[0], widths[0])
        if config.context:
            self.context = nn.Sequential(
                nn.Linear(widths[-1], widths[-1]), nn.ReLU(inplace=True), nn.Linear(widths[-1], widths[-1])
            )
            nn.init.zeros_(
                self.context[2].weight
            )  # starts as the plain U-Net (fine-tuning from one keeps it)
            nn.init.zeros_(self.context[2].bias)
        if config.head == "tanh":
            self.head = nn.Conv2d(widths[0], 2, 1)
        else:
            centers = torch.from_numpy(ab_bin_centers(config.bin_grid)) / AB_SCALE
            self.register_buffer("bin_centers", centers, persistent=False)
            self.head = nn.Conv2d(widths[0], len(centers), 1)
        if config.prior:
            self.prior = _pixel_net(in_channels, 32, self.head.out_channels)
        if config.texture:
            self.texture = _pixel_net(in_channels + 2 * len(TEXTURE_WINDOWS) + 4, 64, self.head.out_channels)
        if config.hint_spread:
            if not config.hints:
                raise ValueError("hint_spread needs hints = true")
            self.hint_spread = _pixel_net(1 + 3 * len(SPREAD_CELLS) + 3, 32, self.head.out_channels)

    @property
    def multiple(self) -> int:
        """The network's total stride: other input sizes are padded up to a multiple of it."""
        return 2 ** (self.config.depth if self.config.encoder == "plain" else 5)

    def pretrained_parameters(self) -> list[nn.Parameter]:
        """The parameters that started from ImageNet weights (training may freeze them or slow them down)."""
        return [] if self.config.encoder == "plain" else list(self.encoder.parameters())

    def _input(self, L: torch.Tensor, box: torch.Tensor | None) -> torch.Tensor:
        """L, plus the position channels when config.coords. box (N, 4) = (top, bottom, left, right) of the
        input within its frame in [-1, 1] coordinates; None = the input is the whole frame."""
        if not self.config.coords:
            return L
        n, _, h, w = L.shape
        if box is None:
            box = L.new_tensor([-1.0, 1.0, -1.0, 1.0]).expand(n, 4)
        box = box.to(L.dtype)
        fy = (torch.arange(h, device=L.device, dtype=L.dtype) + 0.5) / h  # pixel centres, 0..1
        fx = (torch.arange(w, device=L.device, dtype=L.dtype) + 0.5) / w
        y = box[:, 0:1] + (box[:, 1:2] - box[:, 0:1]) * fy  # (N, H)
        x = box[:, 2:3] + (box[:, 3:4] - box[:, 2:3]) * fx  # (N, W)
        return torch.cat(
            [L, y[:, None, :, None].expand(n, 1, h, w), x[:, None, None, :].expand(n, 1, h, w)], 1
        )

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """The U-Net body on the prepared input (`_body_input`) -> (N, width, H, W). A side that is not a multiple
        of `multiple` is padded (edge pixels repeated) and the features are cut back to the input's size."""
        h, w = x.shape[-2:]
        m = self.multiple
        if h % m or w % m:
            x = F.pad(x, (0, -w % m, 0, -h % m), mode="replicate")
            return self._features(x)[..., :h, :w]
        guides: list[torch.Tensor | None] = []
        if self.config.encoder == "plain":
            skips = []
            for i, block in enumerate(self.down):
                x = block(x if i == 0 else self.pool(x))
                skips.append(x)
            guides = [None] * len(self.merge)
        else:
            skips = [self.stem(x), *self.encoder(x)]
            guides = [F.avg_pool2d(x, 2**level) for level in range(len(self.merge) - 1, 0, -1)] + [None]
        x = skips.pop()  # the bottleneck
        if self.config.context:
            x = x + self.context(x.mean(dim=(2, 3)))[:, :, None, None]
        for up, merge, guide in zip(self.up, self.merge, guides, strict=True):
            parts = [up(x), skips.pop()] + ([] if guide is None else [guide])
            x = merge(torch.cat(parts, dim=1))
        return self.refine(x)

    @staticmethod
    def texture_stats(x: torch.Tensor) -> torch.Tensor:
        """The texture path's input: the prepared input (L first), local mean and standard deviation of L over
        each TEXTURE_WINDOWS window, horizontal and vertical gradient energy (7 px), the picture's mean and
        standard deviation of L; (N, C, H, W), each roughly in [-1, 1]."""
        L = x[:, :1].float()
        n, _, h, w = L.shape
        stats = [x.float()]
        for k in TEXTURE_WINDOWS:
            mean = _box_mean(L, k)
            var = _box_mean(L * L, k) - mean * mean
            stats += [mean, 4 * var.clamp_min(0).sqrt()]
        gx = F.pad((L[..., :, 1:] - L[..., :, :-1]).abs(), (0, 1))
        gy = F.pad((L[..., 1:, :] - L[..., :-1, :]).abs(), (0, 0, 0, 1))
        stats += [4 * _box_mean(g, 7) for g in (gx, gy)]
        stats += [
            L.mean((2, 3), keepdim=True).expand(n, 1, h, w),
            L.std((2, 3), keepdim=True).expand(n, 1, h, w),
        ]
        return torch.cat(stats, 1).to(x.dtype)

    def _body_input(self, x: torch.Tensor, hints: torch.Tensor | None) -> torch.Tensor:
        """The prepared input plus the hint channels (zeros = no hints) for a model that takes hints."""
        if not self.config.hints:
            return x
        if hints is None:
            hints = x.new_zeros(x.shape[0], HINT_CHANNELS, *x.shape[2:])
        return torch.cat([x, hints.to(x.dtype)], 1)

    def logits(
        self,
        L: torch.Tensor,
        box: torch.Tensor | None = None,
        stride: int = 1,
        hints: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Raw head output: (N, 2, H, W) pre-tanh, or (N, K, H, W) bin logits; `stride` > 1 keeps every
        stride-th pixel per direction (training's loss subgrid, inference's head_stride). `hints` (N, 3, H, W)
        are ignored by a model without hint channels."""
        x = self._input(L, box)
        out = self.head(self._features(self._body_input(x, hints))[..., ::stride, ::stride])
        if self.config.prior:
            out = out + self.prior(x[..., ::stride, ::stride])
        if self.config.texture:
            out = out + self.texture(self.texture_stats(x)[..., ::stride, ::stride])
        if self.config.hint_spread:
            spread = self.spread_hints(L, hints)
            out = out + self.hint_spread(spread[..., ::stride, ::stride])
        return out

    @staticmethod
    def spread_hints(L: torch.Tensor, hints: torch.Tensor | None) -> torch.Tensor:
        """The hint-spread path's input (N, 1 + 3 x (cells + 1), H, W): L, then for 4 px cells, 16 px cells and
        the whole picture the mean hint a and b over the cell (0 where it holds none) and how much of it is
        hinted (1 - exp(-k x hinted pixels)), upsampled back to H x W."""
        n, _, h, w = L.shape
        if hints is None:
            hints = L.new_zeros(n, HINT_CHANNELS, h, w)
        hints = hints.to(L.dtype)
        mask = hints[:, 2:3]
        weighted = torch.cat([hints[:, :2] * mask, mask], 1)
        feats = [L]
        for cell in (*SPREAD_CELLS, None):
            if cell is None:
                pooled = weighted.mean((2, 3), keepdim=True)
                count = pooled[:, 2:3] * h * w
            else:
                pooled = F.avg_pool2d(weighted, cell)
                count = pooled[:, 2:3] * cell * cell
            ab = pooled[:, :2] / pooled[:, 2:3].clamp_min(1e-6)
            level = torch.cat([ab, 1 - torch.exp(-count / 9)], 1)  # a 3x3 hint fills about 63%
            feats.append(F.interpolate(level, size=(h, w), mode="bilinear" if cell else "nearest"))
        return torch.cat(feats, 1)

    def decode(
        self,
        logits: torch.Tensor,
        temperature: float | None = None,
        chroma_gain: float | None = None,
        smoothing: float | None = None,
    ) -> torch.Tensor:
        """Head output -> normalized ab (N, 2, H, W) in [-1, 1]: the annealed mean (bins) or tanh, smoothed, then
        scaled by the chroma gain; each setting defaults to the model's config."""
        gain = self.config.chroma_gain if chroma_gain is None else chroma_gain
        sigma = self.config.ab_smoothing if smoothing is None else smoothing
        if self.config.head == "tanh":
            ab = torch.tanh(logits)
        else:
            t = self.config.temperature if temperature is None else temperature
            # over the last axis (bins moved there): ONNX Runtime's softmax over axis 1 of NCHW took 3x the time
            probs = torch.softmax(logits.float().permute(0, 2, 3, 1) / t, dim=-1)
            ab = (probs @ self.bin_centers.float()).permute(0, 3, 1, 2).to(logits.dtype)
        return scale_chroma(smooth_ab(ab, sigma), gain)

    def mirror_averaged_logits(
        self,
        L: torch.Tensor,
        box: torch.Tensor | None = None,
        logits: torch.Tensor | None = None,
        hints: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The mean of the logits of L (`logits`, when the caller has them already) and of its mirror image
        (mirrored back), at stride 1. A crop's box mirrors too: the mirror image of a crop at (left, right)
        lies at (-right, -left) of the mirrored frame."""
        if logits is None:
            logits = self.logits(L, box, hints=hints)
        mirror_box = None if box is None else torch.stack([box[:, 0], box[:, 1], -box[:, 3], -box[:, 2]], 1)
        mirror_hints = None if hints is None else hints.flip(-1)
        return (logits + self.logits(L.flip(-1), mirror_box, hints=mirror_hints).flip(-1)) / 2

    def network_logits(
        self, L: torch.Tensor, box: torch.Tensor | None = None, hints: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The logits inference decodes: mirror-averaged when config.flip_average (at stride 1), else on the
        head_stride grid."""
        if self.config.flip_average:
            return self.mirror_averaged_logits(L, box, hints=hints)
        return self.logits(L, box, stride=self.config.head_stride, hints=hints)

    @staticmethod
    def to_input_size(ab: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Decoded ab on a coarser grid -> (N, 2, *size), bilinear; unchanged when already that size."""
        if tuple(ab.shape[-2:]) == tuple(size):
            return ab
        return F.interpolate(ab.float(), size=size, mode="bilinear", align_corners=False).to(ab.dtype)

    def forward(
        self, L: torch.Tensor, box: torch.Tensor | None = None, hints: torch.Tensor | None = None
    ) -> torch.Tensor:
        logits = self.network_logits(L, box, hints)
        sigma = self.config.ab_smoothing
        ab = self.decode(logits, smoothing=0.0, chroma_gain=1.0)
        # smoothing and gain at the input size, so sigma keeps its meaning in network pixels whatever the stride
        return scale_chroma(smooth_ab(self.to_input_size(ab, L.shape[-2:]), sigma), self.config.chroma_gain)
