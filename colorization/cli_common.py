"""What the `colorize` subcommands share (cli.py, cli_video.py): exit statuses, error lines, model options."""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def err(message: str) -> None:
    print(f"colorize: {message}", file=sys.stderr)


def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        default="default",
        help="model name or path to a .pt checkpoint (default: the default model)",
    )
    p.add_argument(
        "--models-dir",
        default=None,
        help="folder of installed models (default: $COLORARCHIVE_MODELS or ~/.local/share/colorarchive/models)",
    )
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    p.add_argument(
        "--engine",
        default=None,
        choices=["auto", "torch", "onnx"],
        help="what runs the network: auto (default, or $COLORARCHIVE_ENGINE: ONNX Runtime on a CPU when it is "
        "installed, PyTorch on a GPU), torch, onnx (CPU only)",
    )
