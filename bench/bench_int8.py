"""Would int8 hold? Static int8 quantization of the ONNX export against float32 on real colour photos.

    python bench/bench_int8.py [--calibration 8] [--photos 8] [--threads 2]

Quantizes the default model's ONNX export (colorization.engines) with onnxruntime.quantization (QDQ, per-channel
int8 weights, uint8 activations, min-max calibration on every other photo of ../shared/data/historical_color),
then compares int8 with float32 on the other photos at their network shapes: PSNR of the RGB (the photo's L
with each engine's ab), colourfulness (Hasler & Suesstrunk) and the network's time. int8 would be offered only
where the PSNR stays high and the colourfulness close; it is not an engine today. Prints; writes nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

PHOTOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "historical_color"


def colourfulness(rgb: np.ndarray) -> float:
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, (r + g) / 2 - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibration", type=int, default=8, help="calibration photos (default 8)")
    parser.add_argument("--photos", type=int, default=8, help="compared photos (default 8)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from PIL import Image
    from skimage.color import lab2rgb

    from colorization.frames import Frame
    from colorization.stages import create
    from colorization.stages.colorize import network_box, network_lightness

    files = sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in {".jpg", ".png"})
    calibration, compared = files[0::2][: args.calibration], files[1::2][: args.photos]
    stage = create("colorize", "unet", device="cpu", engine="onnx", threads=args.threads)

    def feed(path: Path) -> dict[str, np.ndarray]:
        image = np.asarray(Image.open(path).convert("L"))
        shape = stage.shape_for(Frame(index=0, image=image))
        given = {
            "L": network_lightness(image, shape)[None, None] / 100.0,
            "box": np.array([network_box(shape)]),
            "hints": np.zeros((1, 3, *shape)),
        }
        return {k: v.astype(np.float32) for k, v in given.items() if k in stage.onnx.inputs}

    class Calibration(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter([feed(p) for p in calibration])

        def get_next(self):
            return next(self.feeds, None)

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    with tempfile.TemporaryDirectory() as tmp:
        int8 = Path(tmp) / "int8.onnx"
        quantize_static(
            str(stage.onnx.path),
            str(int8),
            Calibration(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        sessions = {
            "fp32": stage.onnx.session,
            "int8": ort.InferenceSession(str(int8), options, providers=["CPUExecutionProvider"]),
        }
        psnr, colour, seconds = [], {"fp32": [], "int8": []}, {"fp32": 0.0, "int8": 0.0}
        for path in compared:
            given = feed(path)
            rgb = {}
            for name, session in sessions.items():
                start = time.perf_counter()
                ab = session.run(None, given)[0][0].transpose(1, 2, 0) * stage.ab_scale
                seconds[name] += time.perf_counter() - start
                lab = np.dstack([given["L"][0, 0] * 100.0, ab])
                rgb[name] = np.clip(lab2rgb(lab), 0, 1) * 255
                colour[name].append(colourfulness(rgb[name]))
            mse = float(((rgb["fp32"] - rgb["int8"]) ** 2).mean())
            psnr.append(10 * np.log10(255**2 / max(mse, 1e-12)))
            print(
                f"{path.name}: PSNR {psnr[-1]:.2f} dB, colourfulness {colour['fp32'][-1]:.1f} -> "
                f"{colour['int8'][-1]:.1f}",
                flush=True,
            )
    n = len(compared)
    print(
        f"int8 against float32 on {n} photos: PSNR mean {np.mean(psnr):.2f} dB (lowest {min(psnr):.2f}); "
        f"colourfulness {np.mean(colour['int8']) / np.mean(colour['fp32']):.0%} of float32's; network "
        f"{seconds['fp32'] / n * 1e3:.0f} ms (fp32) and {seconds['int8'] / n * 1e3:.0f} ms (int8) per photo"
    )


if __name__ == "__main__":
    main()
