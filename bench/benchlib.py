"""What every benchmark script shares: the machine line, the load, and writing its own BENCHMARKS.md section."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def machine() -> str:
    """CPU model, cores, GPU (if any), Python and torch versions."""
    import torch

    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores{gpu}; Python {platform.python_version()}, torch {torch.__version__}"
    )


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def write_section(section: str, text: str, path: Path = REPO / "BENCHMARKS.md") -> None:
    """Replace (or append) the section headed `section`; other sections are left as they are."""
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text, old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    path.write_text(new, encoding="utf-8")


def publish(section: str, lines: list[str], write: bool = True) -> None:
    """Print a benchmark's section and, unless told not to, put it into BENCHMARKS.md."""
    text = "\n".join(lines) + "\n"
    print(text)
    if write:
        write_section(section, text)
        print(f"wrote {section!r} into BENCHMARKS.md")
