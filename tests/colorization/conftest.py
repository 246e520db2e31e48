"""Fixtures for the library tests: a tiny model and small real image files in every format and mode."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def gradient(height: int = 48, width: int = 64, dtype=np.uint8) -> np.ndarray:
    """A grey test picture with structure in both directions (not flat, so errors show)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    g = 0.5 + 0.35 * np.sin(x / 5.0) * np.cos(y / 7.0) + 0.1 * (x / width)
    top = 65535 if dtype == np.uint16 else 255
    return np.clip(g * top, 0, top).round().astype(dtype)


def colour_picture(height: int = 48, width: int = 64) -> np.ndarray:
    g = gradient(height, width)
    return np.dstack([g, np.roll(g, 9, axis=1), 255 - g])


def exif_rotated_jpeg(path: Path, orientation: int = 6) -> Path:
    """A 40x20 (w x h) stored JPEG with an EXIF orientation tag; dark left half marks the stored layout."""
    arr = np.full((20, 40), 220, np.uint8)
    arr[:, :20] = 30
    im = Image.fromarray(arr, "L")
    exif = Image.Exif()
    exif[0x0112] = orientation
    im.save(path, "JPEG", quality=95, exif=exif.tobytes())
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A randomly initialised width-4 U-Net checkpoint (the contract's tiny model)."""
    import torch

    from colorization.checkpoint import save
    from colorization.models import UNet, UNetConfig

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models")
    model = UNet(UNetConfig(width=4))
    # a non-zero head bias, so the tiny model predicts visible colour (random init is almost grey)
    with torch.no_grad():
        model.head.bias.copy_(torch.tensor([0.25, 0.35]))
    return save(folder / "tiny.pt", model, name="tiny", version="0.1", metrics={"mae": 9.5, "psnr": 21.25})


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> dict[str, Path]:
    """One small real file per format and mode the decoder must handle."""
    import tifffile

    d = tmp_path_factory.mktemp("samples")
    g8, g16, rgb = gradient(), gradient(dtype=np.uint16), colour_picture()
    out: dict[str, Path] = {}

    def put(name: str, im: Image.Image, fmt: str, **kw) -> None:
        out[name] = d / name
        im.save(out[name], fmt, **kw)

    put("gray.jpg", Image.fromarray(g8, "L"), "JPEG", quality=95)
    put("rgb.jpg", Image.fromarray(rgb, "RGB"), "JPEG", quality=95)
    put("gray.png", Image.fromarray(g8, "L"), "PNG")
    put("gray16.png", Image.fromarray(g16), "PNG")
    put("rgba.png", Image.fromarray(np.dstack([rgb, np.full(g8.shape, 128, np.uint8)]), "RGBA"), "PNG")
    put("palette.png", Image.fromarray(g8, "L").convert("P"), "PNG")
    put("palette.gif", Image.fromarray(rgb, "RGB").convert("P", palette=Image.Palette.ADAPTIVE), "GIF")
    put("gray.webp", Image.fromarray(g8, "L").convert("RGB"), "WEBP", lossless=True)
    put("gray.bmp", Image.fromarray(g8, "L"), "BMP")
    put("cmyk.jpg", Image.fromarray(rgb, "RGB").convert("CMYK"), "JPEG", quality=95)
    put("gray.tif", Image.fromarray(g8, "L"), "TIFF")
    out["gray16.tif"] = d / "gray16.tif"
    tifffile.imwrite(out["gray16.tif"], g16)
    out["rgb16.tif"] = d / "rgb16.tif"
    tifffile.imwrite(out["rgb16.tif"], np.dstack([g16, g16[::-1] // 2, g16]), photometric="rgb")  # colour
    out["multipage.tif"] = d / "multipage.tif"
    pages = [Image.fromarray(g8, "L"), Image.fromarray(255 - g8, "L"), Image.fromarray(g8 // 2, "L")]
    pages[0].save(out["multipage.tif"], "TIFF", save_all=True, append_images=pages[1:])
    out["rotated.jpg"] = exif_rotated_jpeg(d / "rotated.jpg")
    return out


def historical_bw() -> list[Path]:
    folder = SHARED_DATA / "historical_bw"
    if not folder.is_dir():
        pytest.skip(f"real archive photos not present at {folder} (see ../shared/data/MANIFEST.md)")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})


@pytest.fixture(scope="session")
def helpers():
    """The helper functions above, for tests (conftest modules are not importable by name)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        sha256=sha256,
        gradient=gradient,
        colour_picture=colour_picture,
        exif_rotated_jpeg=exif_rotated_jpeg,
        historical_bw=historical_bw,
    )
