"""Every registered stage, parametrized over `available(kind)`, runs on tiny real inputs.

A new stage is covered as soon as it is registered: decoders must read one of the sample files, encoders must
write one of the sample formats (a refusal must be a ValueError naming the file, as the product's errors are),
the others must keep the frame contract of colorization/frames.py.
"""

from pathlib import Path

import numpy as np
import pytest

import colorization.stages  # noqa: F401  (registers the built-in stages)
from colorization import available, create
from colorization.frames import Decoded, Frame
from colorization.registry import KINDS

SUFFIXES = [".png", ".jpg", ".tif", ".mp4", ".mkv"]


def params(kind):
    names = available(kind)
    return names or [pytest.param(None, marks=pytest.mark.skip(reason=f"no {kind} stage registered"))]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """An 8-frame 64x48 H.264 (or MPEG-4) clip with a moving bar, written with PyAV."""
    import av

    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    with av.open(str(path), "w") as out:
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        stream = out.add_stream(codec, rate=8)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(8):
            img = np.full((48, 64, 3), 90, np.uint8)
            img[:, 4 * i : 4 * i + 12] = 200
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def frames_with_ab(n=6, size=(48, 64), ab_size=(16, 16)):
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        g = np.full(size, 60 + 20 * i, np.uint8)
        g[:, (5 * i) % size[1] :][:, :10] = 220
        out.append(
            Frame(
                index=i,
                image=np.broadcast_to(g[..., None], (*size, 3)),
                space="rgb",
                ab=rng.normal(0, 15, (*ab_size, 2)).astype(np.float32),
                info={"gray": True},
            )
        )
    return out


def check_contract(frames, n, size=(48, 64)):
    assert [f.index for f in frames] == list(range(n))
    for f in frames:
        assert f.image.ndim == 3 and f.image.shape[2] == 3 and f.image.dtype in (np.uint8, np.uint16)
        if size:
            assert f.image.shape[:2] == size


def test_every_kind_has_a_stage():
    for kind in KINDS:
        assert available(kind), f"no {kind} stage is registered"


@pytest.mark.parametrize("name", params("decode"))
def test_decoders(name, samples, clip):
    decoder = create("decode", name)
    read, errors = 0, []
    for path in [samples["gray.png"], samples["rgb16.tif"], clip]:
        try:
            decoded = decoder(path)
        except ValueError as exc:  # a decoder may refuse a kind of file, with the product's one-line error
            assert path.name in str(exc) and "\n" not in str(exc), f"unclear refusal: {exc}"
            errors.append(f"{path.name}: {exc}")
            continue
        assert isinstance(decoded, Decoded)
        frames = list(decoded.frames)
        decoded.close()
        assert frames and (decoded.count is None or decoded.count == len(frames))
        check_contract(frames, len(frames), size=(48, 64))
        read += 1
    assert read, f"decoder {name!r} read none of the samples: {errors}"


@pytest.mark.parametrize("name", params("preprocess"))
def test_preprocess(name):
    stage = create("preprocess", name)
    out = list(stage(iter(frames_with_ab(ab_size=(16, 16)))))
    check_contract(out, 6, size=None)


@pytest.mark.parametrize("name", params("colorize"))
def test_colorize(name, tiny_model):
    stage = create("colorize", name, model=str(tiny_model), batch_size=4)
    frames = frames_with_ab()
    for f in frames:
        f.ab = None
    out = list(stage(iter(frames)))
    check_contract(out, 6)
    for f in out:
        assert f.ab is not None and f.ab.ndim == 3 and f.ab.shape[2] == 2 and f.ab.dtype == np.float32
        assert np.abs(f.ab).max() <= 128.0
    description = stage.describe()
    assert description["model"] == "tiny" and description["model_version"] == "0.1"


@pytest.mark.parametrize("name", params("temporal"))
def test_temporal(name):
    stage = create("temporal", name)
    out = list(stage(iter(frames_with_ab())))
    check_contract(out, 6)
    for f in out:
        assert f.ab.shape == (16, 16, 2) and np.isfinite(f.ab).all()


@pytest.mark.parametrize("name", params("postprocess"))
def test_postprocess(name):
    stage = create("postprocess", name)
    out = list(stage(iter(frames_with_ab())))
    check_contract(out, 6)


@pytest.mark.parametrize("name", params("encode"))
def test_encoders(name, tmp_path, samples, clip):
    encoder = create("encode", name)
    written, errors = 0, []
    for suffix in SUFFIXES:
        frames = frames_with_ab(n=8)
        for f in frames:
            f.image = np.ascontiguousarray(f.image)
        decoded = Decoded(
            frames=iter(frames),
            count=8,
            fps=8,
            info={"path": str(clip), "name": clip.name, "sha256": "0" * 64, "format": "PNG"},
        )
        dst = tmp_path / f"out{suffix}"
        try:
            info = encoder(iter(frames), dst, decoded, {"model": "tiny", "model_version": "0.1"})
        except ValueError as exc:  # an encoder may refuse a format, with the product's one-line error
            assert dst.name in str(exc) and "\n" not in str(exc), f"unclear refusal: {exc}"
            assert not dst.exists(), "a refused output was left behind"
            errors.append(f"{suffix}: {exc}")
            continue
        path = Path((info or {}).get("path", dst))
        assert path.is_file() and path.stat().st_size > 0
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary file left behind"
        written += 1
    assert written, f"encoder {name!r} wrote none of {SUFFIXES}: {errors}"


@pytest.mark.gpu
@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA device")
def test_unet_on_cuda_with_autocast_matches_cpu(tiny_model):
    cpu = create("colorize", "unet", model=str(tiny_model), device="cpu")
    gpu = create("colorize", "unet", model=str(tiny_model), device="cuda")  # bf16/fp16 autocast
    L = np.random.default_rng(0).uniform(0, 100, (4, cpu.size, cpu.size)).astype(np.float32)
    assert gpu.describe()["device"] == "cuda"
    assert np.abs(gpu.predict(L) - cpu.predict(L)).max() < 3.0  # Lab units; half precision rounding only


def test_network_shape_keeps_the_aspect_ratio():
    from colorization.stages.colorize import network_box, network_shape

    assert network_shape(300, 400, 224) == (224, 304)  # 298.7 rounded to the stride
    assert network_shape(4000, 3000, 224) == (304, 224)  # portrait
    assert network_shape(500, 500, 224) == (224, 224)
    assert network_shape(100, 1000, 224) == (224, 448)  # panoramas capped at twice the short side
    assert network_shape(300, 400, 224, keep_aspect=False) == (224, 224)
    top, bottom, left, right = network_box((224, 304))
    assert (top, bottom) == (-1.0, 1.0) and right == -left == pytest.approx(304 / 224)
    assert network_box((224, 224)) == (-1.0, 1.0, -1.0, 1.0)


def test_colorize_batches_frames_of_mixed_shapes_in_order(tiny_model):
    from colorization.checkpoint import save
    from colorization.models import UNet, UNetConfig

    coords_model = tiny_model.parent / "coords.pt"
    save(coords_model, UNet(UNetConfig(width=4, coords=True, head="bins")), name="coords")
    shapes = [(48, 64), (48, 64), (64, 48), (40, 40), (48, 64), (30, 200)]
    frames = [
        Frame(index=i, image=np.full((*s, 3), 40 + 30 * i, np.uint8), space="rgb", info={"gray": True})
        for i, s in enumerate(shapes)
    ]
    stage = create("colorize", "unet", model=str(coords_model), batch_size=8)
    out = list(stage(iter(frames)))
    assert [f.index for f in out] == list(range(len(shapes)))
    assert [f.ab.shape[:2] for f in out] == [
        (224, 304),
        (224, 304),
        (304, 224),
        (224, 224),
        (224, 304),
        (224, 448),
    ]
    # the same frame alone gives the same colour as inside a batch (no shape mixing inside a forward pass)
    alone = next(iter(stage(iter([Frame(index=0, image=frames[4].image, space="rgb", info={"gray": True})]))))
    assert np.allclose(alone.ab, out[4].ab, atol=1e-4)
    squeezed = create("colorize", "unet", model=str(coords_model), keep_aspect=False)
    assert all(f.ab.shape[:2] == (224, 224) for f in squeezed(iter(frames[:3])))


def test_colorize_batch_size_auto_is_one_frame_on_a_cpu(tiny_model):
    # measured (BENCHMARKS.md): on a CPU the default model runs slower in batches than one frame at a time
    assert create("colorize", "unet", model=str(tiny_model), device="cpu").batch_size == 1
    assert create("colorize", "unet", model=str(tiny_model), device="cpu", batch_size=4).batch_size == 4
