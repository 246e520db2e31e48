"""Test pictures of any size built lazily by libvips, line by line: a huge one costs a few MB to write, not its
pixels. Shared by tests/test_huge_pictures.py and bench/bench_huge_images.py (which puts the repository root
on sys.path, as tests do)."""

from __future__ import annotations


def pattern(width: int, height: int, bands: int = 1):
    """A grey picture of 512-px squares with a fine ramp (RGB: a second channel of horizontal stripes), as a
    lazy pyvips image."""
    import pyvips

    xy = pyvips.Image.xyz(width, height)
    grey = ((xy[0] // 512 + xy[1] // 512) % 2 * 120 + 60 + (xy[0] % 97) // 8).cast("uchar")
    if bands == 3:
        grey = grey.bandjoin([(xy[1] // 64 % 256).cast("uchar"), grey]).copy(interpretation="srgb")
    return grey
