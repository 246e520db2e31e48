"""colorize "unet": the thesis network predicts ab at its working size (from the checkpoint's data_cfg).

The checkpoint is loaded once, when the stage is built (so a missing model fails before any file is read).
The network sees each frame with its own aspect ratio: the short side at `size` (224), the long side in
proportion (at most twice `size`), both multiples of the network's stride; models with position channels are
told that the centred square spans [-1, 1], as the centre-cropped training frames did. Frames of one shape are
batched: up to `batch_size` frames (auto: 8 on a GPU, 1 on a CPU), or fewer when they are large, share one
forward pass. Each frame leaves with `frame.ab` = float32 (h, w, 2) in Lab units at that network shape;
`frame.image` is untouched (frames.py contract). What runs the network is the `engine` option
(colorization.engines): "auto" = ONNX Runtime on a CPU when installed (the same colour within TOLERANCE_AB),
PyTorch on a GPU; "torch" or "onnx" force one, and $COLORARCHIVE_ENGINE overrides "auto".
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from colorization import engines
from colorization import hints as hint_points
from colorization.color import AB_SCALE, L_SCALE, gray_to_lightness, rgb_to_lightness
from colorization.frames import Frame
from colorization.registry import register


def pick_device(device: str = "auto") -> str:
    """ "auto": CUDA, then Apple MPS, then CPU."""
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def network_shape(
    height: int, width: int, size: int, multiple: int = 16, keep_aspect: bool = True, max_aspect: float = 2.0
) -> tuple[int, int]:
    """The (h, w) the network sees for a height x width frame: the short side at `size`, the long side in
    proportion (capped at `max_aspect` x size), each rounded to a multiple of `multiple`; size x size when not
    keep_aspect. Validation showed squeezing a 4:3 photo into a square costs a little PSNR and correlation."""
    if not keep_aspect or height == width:
        return size, size
    short, long = sorted((height, width))
    long_side = max(size, min(round(size * long / short / multiple) * multiple, int(size * max_aspect)))
    return (size, long_side) if width > height else (long_side, size)


def network_box(shape: tuple[int, int]) -> tuple[float, float, float, float]:
    """Position channels' box (top, bottom, left, right) for a network input of `shape`: the centred square
    spans [-1, 1] (training frames were centre crops), the rest of the long side lies beyond."""
    h, w = shape
    s = min(h, w)
    return -h / s, h / s, -w / s, w / s


def network_lightness(image: np.ndarray, shape: tuple[int, int], gray: bool | None = None) -> np.ndarray:
    """Full-resolution RGB (or gray) uint8/uint16 -> L in [0, 100] at `shape` (h, w) (area-averaged, as in
    training: resize the RGB first, then convert)."""
    import cv2

    top = 65535.0 if image.dtype == np.uint16 else 255.0
    if gray is None:
        gray = image.ndim == 2
    src = image[..., 0] if (gray and image.ndim == 3) else image
    src = np.ascontiguousarray(src)
    h, w = shape
    small = cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / top
    return gray_to_lightness(small) if small.ndim == 2 else rgb_to_lightness(small)


@register("colorize", "unet")
class UNetColorizer:
    """The U-Net of the thesis (or any checkpoint with arch "unet")."""

    def __init__(
        self,
        model: str | os.PathLike = "default",
        checkpoint: str | os.PathLike | None = None,
        models_dir: str | os.PathLike | None = None,
        batch_size: int = 0,  # 0: auto (8 on a GPU; 1 on a CPU, where batching measured slower)
        device: str = "auto",
        precision: str = "auto",  # "auto" (bf16/fp16 autocast on GPU) | "fp32"
        max_batch_megapixels: float = 200.0,  # also flush a batch when the frames held reach this size
        keep_aspect: bool = True,  # False: every frame squeezed to size x size (the behaviour before 2026-11-26)
        follow_hints: bool = True,  # False: the network's answer to hints alone, without colorization.hints.follow
        strength: float = 1.0,  # colour strength: the chroma of the network's colour x this, not what hints ask
        engine: str = "auto",  # "torch" | "onnx" | "auto": ONNX Runtime on a CPU (colorization.engines)
        threads: int = 0,  # ONNX Runtime's threads; 0: PyTorch's setting (torch.get_num_threads())
    ):
        from colorization import checkpoint as ckpt_mod
        from colorization.zoo import resolve_model

        self.path = Path(checkpoint) if checkpoint else resolve_model(model, models_dir)
        self.device = pick_device(device)
        self.model, ckpt = ckpt_mod.load_model(self.path, self.device)
        cfg = ckpt.get("data_cfg") or {}
        self.size = int(cfg.get("size", 224))
        self.l_scale = float(cfg.get("l_scale", L_SCALE))
        self.ab_scale = float(cfg.get("ab_scale", AB_SCALE))
        self.name = str(ckpt.get("name") or self.path.stem)
        self.version = str(ckpt.get("version", ""))
        self.batch_size = max(1, int(batch_size)) if batch_size else (1 if self.device == "cpu" else 8)
        self.precision = precision
        self.max_batch_pixels = max_batch_megapixels * 1e6
        self.keep_aspect = bool(keep_aspect)
        self.multiple = int(getattr(self.model, "multiple", 16))
        # a model with hint channels follows frame.info["hints"] (colorization.hints); others ignore them
        self.takes_hints = bool(getattr(getattr(self.model, "config", None), "hints", False))
        self.follow_hints = bool(follow_hints)
        self.strength = hint_points.check_strength(strength)  # frame.info["strength"] overrides it per frame
        # ONNX Runtime runs the network in float32, as PyTorch does on a CPU (autocast is for GPUs)
        self.engine, self.onnx = engines.load_network(self.model, self.path, engine, self.device, threads)

    def describe(self) -> dict:
        return {
            "model": self.name,
            "model_version": self.version,
            "model_file": self.path.name,
            "network_size": self.size,
            "device": self.device,
            "engine": self.engine,
            **({"colour_strength": self.strength} if self.strength != 1 else {}),
        }

    def _autocast(self):
        import torch

        if self.precision == "fp32" or self.device == "cpu":
            return contextlib.nullcontext()
        if self.device == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            return torch.autocast("cuda", dtype=dtype)
        if self.device == "mps":
            return torch.autocast("mps", dtype=torch.float16)
        return contextlib.nullcontext()

    def shape_for(self, frame: Frame) -> tuple[int, int]:
        full = frame.info.get("full")  # a huge picture: frame.image is it reduced, the shape is the picture's
        h, w = (full.height, full.width) if full is not None else frame.image.shape[:2]
        return network_shape(h, w, self.size, self.multiple, self.keep_aspect)

    def predict(self, lightness: np.ndarray, hints: np.ndarray | None = None) -> np.ndarray:
        """L (N, h, w) in [0, 100] -> ab (N, h, w, 2) float32 in Lab units (h and w multiples of 16);
        `hints` (N, 3, h, w): hint channels (colorization.hints.render) for a model that takes them."""
        x = np.ascontiguousarray(lightness, dtype=np.float32)[:, None] / self.l_scale
        box = np.array([network_box(x.shape[2:])] * len(x), dtype=np.float32)
        if self.onnx is not None:
            given = hints if hints is not None and self.takes_hints else None
            ab = self.onnx(x, box, given)
            return (ab.transpose(0, 2, 3, 1) * self.ab_scale).astype(np.float32)
        import torch

        x, box = torch.from_numpy(x), torch.from_numpy(box)
        kwargs = {}
        if hints is not None and self.takes_hints:
            kwargs["hints"] = torch.from_numpy(np.ascontiguousarray(hints, dtype=np.float32)).to(self.device)
        with torch.inference_mode(), self._autocast():
            ab = self.model(x.to(self.device), box.to(self.device), **kwargs)
        return (ab.float().cpu().numpy().transpose(0, 2, 3, 1) * self.ab_scale).astype(np.float32)

    def _flush(self, batch: list[Frame], shape: tuple[int, int]) -> Iterator[Frame]:
        L = np.stack([network_lightness(f.image, shape, gray=f.info.get("gray")) for f in batch])
        hinted = self.takes_hints and any(f.info.get("hints") for f in batch)
        plain_batch = self.predict(L) if not hinted or self.follow_hints else None
        if hinted:
            ab_batch = self.predict(
                L, np.stack([hint_points.render(f.info.get("hints") or [], *shape) for f in batch])
            )
        else:
            ab_batch = plain_batch
        for i, (frame, lightness) in enumerate(zip(batch, L, strict=True)):
            ab = ab_batch[i]
            strength = float(frame.info.get("strength", self.strength))
            if hinted and self.follow_hints and frame.info.get("hints"):
                # following starts from the answers with and without hints (colorization.hints.Following);
                # strength scales the network's colour where the hints do not hold it
                ab = hint_points.follow(
                    ab, lightness, frame.info["hints"], unhinted=plain_batch[i], strength=strength
                )
            elif strength != 1:
                ab = ab * strength
            frame.ab = ab
            yield frame

    def __call__(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        # Frames leave in order: a frame of another network shape flushes the batch held before it.
        batch: list[Frame] = []
        shape: tuple[int, int] | None = None
        pixels = 0
        for frame in frames:
            frame_shape = self.shape_for(frame)
            if batch and frame_shape != shape:
                yield from self._flush(batch, shape)
                batch, pixels = [], 0
            batch.append(frame)
            shape = frame_shape
            pixels += frame.image.shape[0] * frame.image.shape[1]
            if len(batch) >= self.batch_size or pixels >= self.max_batch_pixels:
                yield from self._flush(batch, shape)
                batch, pixels = [], 0
        if batch:
            yield from self._flush(batch, shape)
