"""The installed models side by side in one run: FLOPs per 224 x 224 frame (torch.utils.flop_counter) and network
throughput at 224 x 224, batch 1, on this machine, with and without colour hints for a model that takes them.

    python bench/bench_models.py            # prints and writes its section of BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchlib import load_average, machine, publish  # noqa: E402

SECTION = "## Models side by side (bench/bench_models.py)"


def _rate(model, x, hints=None, repeats: int = 12) -> float:
    """Frames per second: the best of `repeats` single passes after two warm-up passes."""
    import torch

    kwargs = {"hints": hints} if hints is not None else {}
    with torch.inference_mode():
        for _ in range(2):
            model(x, **kwargs)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            model(x, **kwargs)
            best = min(best, time.perf_counter() - start)
    return 1.0 / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=12)
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from colorization import checkpoint, hints, zoo

    torch.manual_seed(0)
    x = torch.rand(1, 1, 224, 224)
    channels = torch.from_numpy(hints.render([hints.Hint(0.3, 0.3, "#3b7a57")] * 10, 224, 224))[None]
    rows = []
    for info in zoo.list_models():
        model = checkpoint.load_model(info.path, "cpu")[0].float().eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
        rows.append(
            {
                "name": info.name + (" (default)" if info.default else ""),
                "gflops": counter.get_total_flops() / 1e9,
                "rate": _rate(model, x, repeats=args.repeats),
                "hinted": _rate(model, x, channels, args.repeats) if model.config.hints else None,
                "mirror": model.config.flip_average,
            }
        )
    base = rows[0]["rate"]
    lines = [
        SECTION,
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}; load average at the start "
        f"{load_average()}. One 224 x 224 frame per forward pass (the model's whole inference pass: mirror "
        "averaging where the model uses it), float32, best of "
        f"{args.repeats}; the rates were measured one after the other in this run, so their ratios hold even "
        "where the machine's load moves the figures.",
        "",
        "| model | GFLOPs / frame | frames/s | relative | frames/s with 10 hints |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        hinted = f"{r['hinted']:.2f}" if r["hinted"] else "(takes no hints)"
        mirror = " (mirror averaging)" if r["mirror"] else ""
        lines.append(
            f"| {r['name']}{mirror} | {r['gflops']:.1f} | {r['rate']:.2f} | {r['rate'] / base:.2f}x | {hinted} |"
        )
    lines.append("")
    publish(SECTION, lines, write=not args.no_write)


if __name__ == "__main__":
    main()
