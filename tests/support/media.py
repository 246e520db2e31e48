"""Media the tests make: small real photographs and films."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_photo(path: Path, size: tuple[int, int] = (96, 72), gray: bool = True) -> Path:
    """A small photograph-like image: gradient sky, a disc, stripes (greyscale or colour)."""
    from PIL import Image

    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 90 + 120 * y / h
    g = 60 + 150 * x / w
    b = 160 - 100 * (y / h)
    disc = (x - w * 0.6) ** 2 + (y - h * 0.45) ** 2 < (min(w, h) * 0.22) ** 2
    r[disc], g[disc], b[disc] = 220, 80, 40
    stripes = (x.astype(int) // 8) % 2 == 0
    g[stripes & (y > h * 0.75)] = 200
    rgb = np.stack([r, g, b], axis=-1).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(rgb)
    if gray:
        image = image.convert("L")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def make_film(
    path: Path, frames: int = 20, size: tuple[int, int] = (64, 48), fps: int = 10, gop: int = 5
) -> Path:
    """A short greyscale H.264 film with a moving square (keyframes every `gop` frames)."""
    import av

    w, h = size
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.gop_size = gop
        stream.options = {"preset": "ultrafast", "bf": "0", "sc_threshold": "0", "keyint_min": str(gop)}
        for i in range(frames):
            img = np.full((h, w, 3), 40 + (4 * i) % 200, dtype=np.uint8)  # any length fits in a byte
            x0 = (i * 2) % (w - 16)
            img[16:32, x0 : x0 + 16] = 220
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
