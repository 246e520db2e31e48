"""Inference engines for the colorize stage's network: eager PyTorch ("torch") or ONNX Runtime ("onnx").

    engine = pick_engine("auto", device="cpu")          # "onnx" on a CPU when onnxruntime and onnx are installed
    net = OnnxNetwork(model, checkpoint_path, threads=2)
    ab = net(L, box, hints)                              # what model(L, box, hints) returns, as NumPy

"auto" picks ONNX Runtime on a CPU (the same network, measured faster there: BENCHMARKS.md) and PyTorch on
CUDA or MPS, where PyTorch's autocast already runs it in half precision. `$COLORARCHIVE_ENGINE` (torch, onnx
or auto) overrides "auto"; an explicit engine overrides both. The network is exported once per checkpoint
(keyed by the checkpoint's SHA-256 and EXPORT_VERSION) to `$COLORARCHIVE_ONNX_CACHE` or
`$XDG_CACHE_HOME/colorarchive/onnx` (`~/.cache/colorarchive/onnx`); nothing is downloaded. The exported graph
takes any batch and any height and width that are multiples of the model's stride (`model.multiple`, as the
stage's network shapes are), and returns the decoded ab in [-1, 1]: it matches eager PyTorch within
TOLERANCE_AB Lab units (tests/colorization/test_engines.py, on real photos).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

ENGINES = ("auto", "torch", "onnx")
ENGINE_ENV = "COLORARCHIVE_ENGINE"
CACHE_ENV = "COLORARCHIVE_ONNX_CACHE"
# Raised when the export changes (graph inputs, opset, what the graph computes), so old cached files are not used.
EXPORT_VERSION = 1
OPSET = 17
# Largest ab difference (Lab units) allowed between the engines on real photos; measured: about 1e-4.
TOLERANCE_AB = 0.05


class EngineError(ValueError):
    """An engine that cannot run here (onnxruntime missing, or ONNX Runtime asked for on a GPU); a usage error."""


def onnx_available() -> bool:
    """Whether ONNX Runtime and the exporter's `onnx` package are importable."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def requested_engine(engine: str = "auto") -> str:
    """The engine asked for: `engine` unless "auto", then $COLORARCHIVE_ENGINE, else "auto"."""
    for name, source in ((engine, "engine"), (os.environ.get(ENGINE_ENV) or "auto", f"${ENGINE_ENV}")):
        if name not in ENGINES:
            raise ValueError(f"unknown {source} {name!r}; known: {', '.join(ENGINES)}")
    return engine if engine != "auto" else os.environ.get(ENGINE_ENV) or "auto"


def pick_engine(engine: str = "auto", device: str = "cpu") -> str:
    """ "torch" or "onnx" for `device`: an explicit engine wins, then $COLORARCHIVE_ENGINE, then auto (ONNX
    Runtime on a CPU when it is installed, PyTorch elsewhere). EngineError for ONNX Runtime that cannot run."""
    chosen = requested_engine(engine)
    on_cpu = str(device) == "cpu"
    if chosen == "auto":
        return "onnx" if on_cpu and onnx_available() else "torch"
    if chosen == "onnx":
        if not on_cpu:
            raise EngineError(
                f"engine onnx runs on the CPU; the device is {device} (use engine torch or auto)"
            )
        if not onnx_available():
            raise EngineError(
                "engine onnx needs the onnxruntime and onnx packages (pip install 'colorarchive[ml]')"
            )
    return chosen


def load_network(
    model, checkpoint: str | os.PathLike, engine: str = "auto", device: str = "cpu", threads: int = 0
) -> tuple[str, OnnxNetwork | None]:
    """The engine that runs `model` and, for "onnx", its ONNX Runtime network. When auto's choice of ONNX
    Runtime cannot be set up (an unwritable cache, an export that fails) it falls back to PyTorch with a
    warning; an engine asked for by name fails instead."""
    name = pick_engine(engine, device)
    if name != "onnx":
        return name, None
    try:
        return name, OnnxNetwork(model, checkpoint, threads)
    except Exception as exc:  # noqa: BLE001 - auto keeps working with the engine that always does
        if requested_engine(engine) == "onnx":
            raise
        warnings.warn(f"ONNX Runtime engine unavailable ({exc}); running eager PyTorch", stacklevel=2)
        return "torch", None


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache_home / "colorarchive" / "onnx"


def file_digest(path: str | os.PathLike) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def onnx_path(checkpoint: str | os.PathLike) -> Path:
    """Where the export of `checkpoint` is cached: <cache>/<stem>-<sha256[:16]>-e<EXPORT_VERSION>.onnx."""
    stem = Path(checkpoint).stem
    return cache_dir() / f"{stem}-{file_digest(checkpoint)[:16]}-e{EXPORT_VERSION}.onnx"


def network_inputs(model) -> list[str]:
    """The inputs the exported graph takes: L, then box for a model with position channels and hints for one
    with hint channels (an input the model ignores would be dropped by the exporter and shift the names)."""
    config = getattr(model, "config", None)
    return (
        ["L"]
        + (["box"] if getattr(config, "coords", False) else [])
        + (["hints"] if getattr(config, "hints", False) else [])
    )


def export_onnx(model, dst: str | os.PathLike) -> Path:
    """Write `model`'s forward pass (L[, box][, hints]) -> ab to `dst` as ONNX with a dynamic batch, height and
    width; written beside `dst` first and renamed, so a reader never sees half a file."""
    import torch

    from colorization.models.unet import HINT_CHANNELS

    class Forward(torch.nn.Module):
        def __init__(self, names: list[str]):
            super().__init__()
            self.model, self.names = model.float().eval(), names

        def forward(self, *args):
            given = dict(zip(self.names, args, strict=True))
            return self.model(given["L"], given.get("box"), given.get("hints"))

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    m = int(getattr(model, "multiple", 32))
    h, w = 7 * m, 9 * m  # an example shape; the graph takes others (multiples of m)
    examples = {
        "L": torch.zeros(1, 1, h, w),
        "box": torch.tensor([[-1.0, 1.0, -w / h, w / h]]),
        "hints": torch.zeros(1, HINT_CHANNELS, h, w),
    }
    names = network_inputs(model)
    image_axes = {0: "n", 2: "h", 3: "w"}
    axes = {"L": image_axes, "box": {0: "n"}, "hints": image_axes}
    fd, tmp = tempfile.mkstemp(suffix=".onnx.part", dir=dst.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes on Python values taken as constants
            torch.onnx.export(
                Forward(names),
                tuple(examples[name] for name in names),
                tmp,
                input_names=names,
                output_names=["ab"],
                dynamic_axes={**{name: axes[name] for name in names}, "ab": image_axes},
                opset_version=OPSET,
                dynamo=False,
            )
        os.replace(tmp, dst)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return dst


class OnnxNetwork:
    """The colorize network run by ONNX Runtime on the CPU; called like the model, with NumPy arrays."""

    def __init__(self, model, checkpoint: str | os.PathLike, threads: int = 0):
        import onnxruntime as ort

        from colorization.models.unet import HINT_CHANNELS

        self.hint_channels = HINT_CHANNELS
        self.multiple = int(getattr(model, "multiple", 32))
        self.path = onnx_path(checkpoint)
        if not self.path.is_file():
            export_onnx(model, self.path)
        if not threads:  # the same setting as PyTorch's (OMP_NUM_THREADS, torch.set_num_threads)
            import torch

            threads = torch.get_num_threads()
        self.threads = int(threads)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.inputs = set(network_inputs(model))

    def __call__(self, L: np.ndarray, box: np.ndarray, hints: np.ndarray | None = None) -> np.ndarray:
        """L (N, 1, h, w) normalized, box (N, 4), hints (N, 3, h, w) or None -> ab (N, 2, h, w) in [-1, 1]."""
        n, _, h, w = L.shape
        if h % self.multiple or w % self.multiple:
            raise ValueError(
                f"the ONNX network takes sides that are multiples of {self.multiple}, not {h}x{w}"
            )
        if hints is None:
            hints = np.zeros((n, self.hint_channels, h, w), np.float32)
        feed = {"L": L, "box": box, "hints": hints}
        feed = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in feed.items() if k in self.inputs}
        return self.session.run(None, feed)[0]
