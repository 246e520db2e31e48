"""preprocess "resize": shrink frames whose longer side exceeds `max_side` (previews, web-size video).

The network input size is not set here: the colorize stage reads it from the checkpoint's data_cfg, so
preprocessing is never hard-coded in two places. Frames stay RGB uint8/uint16 (frames.py contract).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from colorization.frames import Frame
from colorization.registry import register


def shrink(image: np.ndarray, max_side: int, gray: bool = False) -> np.ndarray:
    """Area-downscale so that max(H, W) <= max_side (never upscales); a gray view stays a gray view."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1.0:
        return image
    return shrink_to(image, (max(1, round(width * scale)), max(1, round(height * scale))), gray)


def shrink_to(image: np.ndarray, size: tuple[int, int], gray: bool = False) -> np.ndarray:
    """Area-resize to `size` (width, height); a gray view stays a gray view."""
    import cv2

    if gray:
        small = cv2.resize(np.ascontiguousarray(image[..., 0]), size, interpolation=cv2.INTER_AREA)
        return np.broadcast_to(small[..., None], (*small.shape, 3))
    return cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA)


@register("preprocess", "resize")
class Resize:
    def __init__(self, max_side: int = 2048):
        if int(max_side) < 16:
            raise ValueError(f"resize: max_side must be at least 16, got {max_side}")
        self.max_side = int(max_side)

    def __call__(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        for frame in frames:
            full = frame.info.get(
                "full"
            )  # a huge picture, held reduced: the result is the reduced one's size
            if full is not None and max(full.width, full.height) > self.max_side:
                del frame.info["full"]
                scale = self.max_side / max(full.width, full.height)
                size = (max(1, round(full.width * scale)), max(1, round(full.height * scale)))
                frame.image = shrink_to(full.reduced(max(self.max_side * 2, 2048)), size, frame.info["gray"])
            elif full is None:
                frame.image = shrink(frame.image, self.max_side, gray=bool(frame.info.get("gray")))
            alpha = frame.info.get("alpha")
            if alpha is not None:
                frame.info["alpha"] = shrink(alpha, self.max_side)
            yield frame
