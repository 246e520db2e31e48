"""Film colorization on small clips the tests make with PyAV: frames, timestamps, audio, rotation, codecs,
image folders, lossless masters, progress, and clear errors (with no output left behind) for bad input."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from colorization import build_pipeline, presets
from colorization.media import VideoError, probe

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- clips made by the tests
def picture(i: int, w: int, h: int) -> np.ndarray:
    """Frame i of a grey scene: textured background drifting right, a bright square moving down."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    g = 110 + 60 * np.sin((x - 2 * i) / 5.0) * np.cos(y / 7.0)
    top = (3 * i) % max(1, h - 12)
    g[top : top + 12, w // 3 : w // 3 + 12] = 235
    return np.repeat(np.clip(g, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def make_clip(
    path: Path,
    frames: int = 24,
    size: tuple[int, int] = (64, 48),
    fps: int = 12,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    audio: bool = False,
    vfr: bool = False,
    rotation: int = 0,
    sar: Fraction | None = None,
    gop: int = 6,
    options: dict | None = None,
    subtitles: bool = False,
) -> Path:
    """A short grey film; with `audio` an AAC tone as long as the video; `vfr` gives irregular timestamps;
    `subtitles` adds two SubRip cues (Matroska)."""
    w, h = size
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        step = (1, 1) if not vfr else (7, 23)  # timestamps in 1/fps, or 1/(10 fps) irregularly
        time_base = Fraction(1, fps * (10 if vfr else 1))
        stream.time_base = stream.codec_context.time_base = time_base
        stream.gop_size = gop
        opts = {"preset": "ultrafast", "sc_threshold": "0"} if codec == "libx264" else {}
        stream.options = {**opts, **(options or {})}
        if sar:
            stream.codec_context.sample_aspect_ratio = sar
        if rotation:
            stream.set_display_rotation(rotation)
        astream = None
        if audio:
            astream = out.add_stream("aac", rate=16000, layout="mono")
        if subtitles:  # every stream must exist before the first packet is written
            sub = out.add_mux_stream("subrip")
            sub.time_base = Fraction(1, 1000)
        pts = 0
        for i in range(frames):
            vf = av.VideoFrame.from_ndarray(picture(i, w, h), format="rgb24")
            vf.pts = pts
            pts += step[0] if i % 3 else step[1]
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if astream is not None:
            seconds = float(pts * time_base)
            samples = int(seconds * 16000)
            tone = (0.3 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 16000)).astype(np.float32)
            for start in range(0, samples, 1024):
                af = av.AudioFrame.from_ndarray(
                    tone[None, start : start + 1024], format="fltp", layout="mono"
                )
                af.sample_rate, af.pts = 16000, start
                for packet in astream.encode(af):
                    out.mux(packet)
            for packet in astream.encode():
                out.mux(packet)
        if subtitles:
            for i, text in enumerate(["Hanoi, 1931.", "The market opens."]):
                packet = av.Packet(text.encode())
                packet.stream, packet.time_base = sub, Fraction(1, 1000)
                packet.pts = packet.dts = 400 * i
                packet.duration = 350
                out.mux(packet)
    return path


def video_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [float(f.pts * s.time_base) for f in c.decode(s)]


def decoded_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]


def audio_digest(path: Path) -> tuple[int, str]:
    """Number and hash of the audio packets' bytes: equal when the stream was copied untouched."""
    digest, n = hashlib.sha256(), 0
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return 0, ""
        for packet in c.demux(c.streams.audio[0]):
            if packet.size:
                digest.update(bytes(packet))
                n += 1
    return n, digest.hexdigest()


@pytest.fixture(scope="session")
def film_model(tmp_path_factory) -> Path:
    """Width-4 U-Net at a 64 px network size (fast), with a head bias so its colours are visible."""
    import torch

    from colorization.checkpoint import DEFAULT_DATA_CFG, save
    from colorization.models import UNet, UNetConfig

    torch.manual_seed(0)
    model = UNet(UNetConfig(width=4))
    with torch.no_grad():
        model.head.bias.copy_(torch.tensor([0.25, 0.35]))
    return save(
        tmp_path_factory.mktemp("models") / "tiny.pt",
        model,
        name="tiny",
        data_cfg={**DEFAULT_DATA_CFG, "size": 64},
    )


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The tiny network's convolutions are microseconds; with several OpenMP threads on a busy 2-core machine
    they wait on each other for far longer than they compute (50x slower here). Restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def film(model: Path, smoothing: str = "flow", **options):
    spec = presets.get("film", model=str(model), smoothing=smoothing, batch_size=4, **options)
    spec["encode"]["preset"] = "ultrafast"
    return build_pipeline(spec)


def chroma(rgb: np.ndarray) -> float:
    rgb = rgb.astype(np.float32)
    return float(np.abs(rgb - rgb.mean(axis=2, keepdims=True)).mean())


# ---------------------------------------------------------------- what a colorized film keeps
def test_frames_timestamps_audio_and_provenance_are_kept(tmp_path, film_model):
    src = make_clip(tmp_path / "street 1931.mp4", frames=30, audio=True)
    dst = tmp_path / "out" / "street-colorized.mp4"
    calls = []
    result = film(film_model).run(src, dst, on_progress=lambda i, n: calls.append((i, n)))
    assert result.frames == 30 and calls[-1] == (30, 30) and len(calls) == 30
    assert video_times(dst) == pytest.approx(video_times(src))
    a, b = probe(src), probe(dst)
    assert b["frames"] == a["frames"] == 30
    assert abs(b["duration"] - a["duration"]) <= 1 / 12 + 1e-6
    assert b["fps"] == a["fps"] == 12
    assert audio_digest(dst) == audio_digest(src) and audio_digest(src)[0] > 5
    comment = b["metadata"]["comment"]
    assert "tiny" in comment and "street 1931.mp4" in comment
    assert hashlib.sha256(src.read_bytes()).hexdigest() in comment
    out = decoded_frames(dst)
    assert out[0].shape == (48, 64, 3) and chroma(out[10]) > 2.0  # it is in colour now
    assert list(dst.parent.iterdir()) == [dst]  # no temporary files left
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    with pytest.raises(VideoError, match="overwrite the original"):
        film(film_model).run(src, src)
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before


def subtitle_texts(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(subtitles=0) if p.size] if c.streams.subtitles else []


def test_subtitles_are_copied_where_the_container_can_hold_them(tmp_path, film_model):
    src = make_clip(tmp_path / "newsreel.mkv", frames=12, audio=True, subtitles=True)
    assert subtitle_texts(src) == [b"Hanoi, 1931.", b"The market opens."]
    mkv = tmp_path / "newsreel-colorized.mkv"
    film(film_model, format="h264").run(src, mkv)
    assert subtitle_texts(mkv) == subtitle_texts(src) and audio_digest(mkv) == audio_digest(src)
    mp4 = tmp_path / "newsreel-colorized.mp4"  # MP4 cannot hold SubRip: left out, and the result says so
    result = film(film_model).run(src, mp4)
    assert subtitle_texts(mp4) == [] and audio_digest(mp4) == audio_digest(src)
    assert any("subtitle" in note for note in result.info["dropped_streams"])


def test_variable_frame_rate_timestamps_are_kept(tmp_path, film_model):
    src = make_clip(tmp_path / "vfr.mkv", frames=20, vfr=True)
    dst = tmp_path / "vfr-colorized.mp4"
    film(film_model, smoothing="ema").run(src, dst)
    times = video_times(src)
    assert len(set(np.round(np.diff(times), 4))) > 1  # really irregular
    assert video_times(dst) == pytest.approx(times, abs=1e-3)


def test_rotation_and_sample_aspect_ratio_are_kept(tmp_path, film_model):
    src = make_clip(tmp_path / "phone.mp4", frames=8, rotation=90, sar=Fraction(4, 3))
    dst = tmp_path / "phone-colorized.mp4"
    film(film_model, smoothing="none").run(src, dst)
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        fa, fb = next(a.decode(video=0)), next(b.decode(video=0))
        assert fa.rotation == fb.rotation == 90
        assert (
            b.streams.video[0].sample_aspect_ratio == a.streams.video[0].sample_aspect_ratio == Fraction(4, 3)
        )
        assert (fb.width, fb.height) == (fa.width, fa.height)


def test_ffv1_mkv_master_is_lossless(tmp_path):
    """decode -> encode with no stages: an FFV1 master holds exactly the decoded pixels."""
    src = make_clip(tmp_path / "scan.mkv", frames=6, codec="ffv1", pix_fmt="yuv444p")
    dst = tmp_path / "master.mkv"
    build_pipeline({"decode": "video", "encode": "video"}).run(src, dst)
    assert probe(dst)["codec"] == "ffv1"
    for a, b in zip(decoded_frames(src), decoded_frames(dst), strict=True):
        assert np.array_equal(a, b)


def test_folder_of_numbered_images(tmp_path, film_model):
    from PIL import Image

    folder = tmp_path / "reel"
    folder.mkdir()
    for i in (1, 2, 10, 3, 4, 5, 6, 7, 8, 9):  # natural order: 2 before 10
        Image.fromarray(picture(i, 40, 30)).save(folder / f"frame{i}.png")
    (folder / "notes.txt").write_text("not a frame")
    dst = tmp_path / "reel.mkv"
    result = film(film_model, format="ffv1").run(folder, dst)
    assert result.frames == 10
    info = probe(dst)
    assert info["codec"] == "ffv1" and info["frames"] in (10, None) and len(video_times(dst)) == 10
    assert video_times(dst)[:3] == pytest.approx([0, 1 / 24, 2 / 24], abs=1e-3)  # Matroska counts in ms


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt", "size"),
    [
        ("h265.mkv", "libx265", "yuv420p", (64, 48)),
        ("mpeg2.mpg", "mpeg2video", "yuv420p", (64, 48)),
        ("mpeg4.avi", "mpeg4", "yuv420p", (64, 48)),
        ("prores.mov", "prores_ks", "yuv422p10le", (64, 48)),
        ("mjpeg.avi", "mjpeg", "yuvj420p", (64, 48)),
        ("ffv1.mkv", "ffv1", "yuv420p", (64, 48)),
        ("dv.avi", "dvvideo", "yuv411p", (720, 480)),
    ],
)
def test_input_codecs(tmp_path, film_model, name, codec, pix_fmt, size):
    options = {"x265-params": "log-level=none"} if codec == "libx265" else None
    src = make_clip(
        tmp_path / name,
        frames=5,
        codec=codec,
        pix_fmt=pix_fmt,
        size=size,
        fps=30 if codec == "dvvideo" else 12,
        options=options,
    )
    dst = tmp_path / "out.mp4"
    result = film(film_model).run(src, dst)
    assert result.frames == 5 == len(video_times(dst))
    assert decoded_frames(dst)[0].shape[:2] == (size[1], size[0])


def test_cli_video_command(tmp_path, film_model):
    src = make_clip(tmp_path / "clip.mp4", frames=6, audio=True)
    dst = tmp_path / "clip-colorized.mp4"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "colorization.cli",
            "video",
            str(src),
            "-o",
            str(dst),
            "--model",
            str(film_model),
            "--smoothing",
            "flow",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "6 frames" in run.stderr and len(video_times(dst)) == 6
    assert audio_digest(dst) == audio_digest(src)
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "colorization.cli",
            "video",
            str(src),
            "-o",
            str(dst),
            "--model",
            str(film_model),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert again.returncode == 1 and "exists" in again.stderr


# ---------------------------------------------------------------- bad input
def _no_video(tmp: Path) -> Path:
    path = tmp / "speech.m4a"
    with av.open(str(path), "w") as out:
        s = out.add_stream("aac", rate=16000, layout="mono")
        af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        af.sample_rate, af.pts = 16000, 0
        for packet in list(s.encode(af)) + list(s.encode()):
            out.mux(packet)
    return path


def _zero_frames(tmp: Path) -> Path:
    """A Matroska file with a video stream that holds no frames (and some sound, so the file is valid)."""
    path = tmp / "empty.mkv"
    with av.open(str(path), "w") as out:
        v = out.add_stream("ffv1", rate=12)
        v.width, v.height, v.pix_fmt = 32, 32, "yuv420p"
        a = out.add_stream("aac", rate=16000, layout="mono")
        af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        af.sample_rate, af.pts = 16000, 0
        for packet in list(a.encode(af)) + list(a.encode()):
            out.mux(packet)
    return path


def _truncated(tmp: Path) -> Path:
    src = make_clip(tmp / "whole.mp4", frames=40, size=(96, 64))
    data = src.read_bytes()
    path = tmp / "truncated.mp4"
    path.write_bytes(data[: len(data) // 2])
    return path


def _truncated_faststart(tmp: Path) -> Path:
    src = make_clip(tmp / "whole.mkv", frames=40, size=(96, 64))
    data = src.read_bytes()
    path = tmp / "truncated.mkv"
    path.write_bytes(data[: len(data) // 2])
    return path


def _unsupported_codec(tmp: Path) -> Path:
    src = make_clip(tmp / "clip.avi", frames=4, codec="mjpeg", pix_fmt="yuvj420p")
    data = src.read_bytes().replace(b"MJPG", b"QQZZ")  # a fourcc no decoder knows
    path = tmp / "odd.avi"
    path.write_bytes(data)
    return path


def _huge(tmp: Path) -> Path:
    """A YUV4MPEG2 stream whose header claims 16000 x 12000 pixels per frame (192 megapixels)."""
    path = tmp / "huge.y4m"
    path.write_bytes(b"YUV4MPEG2 W16000 H12000 F12:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(4096))
    return path


def _not_video(tmp: Path) -> Path:
    path = tmp / "notes.mp4"
    path.write_text("these are not moving pictures\n" * 20)
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_no_video, "no video stream"),
        (_zero_frames, "no video frames"),
        (_truncated, "truncated"),
        (_truncated_faststart, "truncated"),
        (_unsupported_codec, "unsupported video codec"),
        (_not_video, "not a readable video"),
    ],
)
def test_bad_input_is_a_clear_error_and_leaves_nothing(tmp_path, film_model, make, reason):
    src = make(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(VideoError) as err:
        film(film_model).run(src, out / "result.mp4")
    message = str(err.value)
    assert reason in message and src.name in message and "\n" not in message
    assert not out.exists() or list(out.iterdir()) == []


def test_a_frame_over_the_pixel_limit_is_refused_from_the_header(tmp_path, film_model, monkeypatch):
    # FFmpeg itself refuses frames over about 268 megapixels, under the default limit: lower the one limit
    from colorization.media import policy

    monkeypatch.setattr(policy, "MAX_PIXELS", 100_000_000)
    src = _huge(tmp_path)
    with pytest.raises(
        VideoError, match=r"huge\.y4m: refused: the picture is too large \(192 megapixels, 16000x12000\)"
    ):
        film(film_model).run(src, tmp_path / "out" / "result.mp4")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_threads_change_nothing_but_speed(tmp_path, film_model):
    """Decode-ahead and encode threads (the default) write the same film as a plain one-frame-at-a-time loop."""
    src = make_clip(tmp_path / "clip.mp4", frames=12, audio=True)
    outputs = []
    for prefetch, queue in ((16, 8), (0, 0)):
        spec = presets.get("film", model=str(film_model), smoothing="flow", batch_size=1)
        spec["decode"] = {"name": "video", "prefetch": prefetch}
        spec["encode"] = {"name": "video", "queue": queue, "codec": "ffv1"}
        dst = tmp_path / f"out{prefetch}.mkv"
        build_pipeline(spec).run(src, dst)
        outputs.append(dst)
    assert audio_digest(outputs[0]) == audio_digest(outputs[1]) == audio_digest(src)
    for a, b in zip(decoded_frames(outputs[0]), decoded_frames(outputs[1]), strict=True):
        assert np.array_equal(a, b)


def test_16bit_dpx_scans_give_a_16bit_lossless_master(tmp_path, film_model):
    """A folder of 16-bit DPX frames (film scans) -> FFV1 keeps all 16 bits; colorized masters stay 16-bit."""
    folder = tmp_path / "scans"
    folder.mkdir()
    rng = np.random.default_rng(0)
    scans = [(rng.random((30, 40, 3)) * 65535).astype(np.uint16) for _ in range(3)]
    for i, scan in enumerate(scans):
        with av.open(str(folder / f"reel1_{i:05d}.dpx"), "w", format="image2") as out:
            s = out.add_stream("dpx", rate=24)
            s.width, s.height, s.pix_fmt = 40, 30, "rgb48le"
            out.mux(list(s.encode(av.VideoFrame.from_ndarray(scan, format="rgb48le"))) + list(s.encode()))
    copy = tmp_path / "copy.mkv"
    build_pipeline({"decode": "video", "encode": "video"}).run(folder, copy)
    with av.open(str(copy)) as c:
        frames = [f.to_ndarray(format="rgb48le") for f in c.decode(video=0)]
    assert all(np.array_equal(a, b) for a, b in zip(frames, scans, strict=True))
    master = tmp_path / "master.mkv"
    film(film_model).run(folder, master)
    with av.open(str(master)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "gbrp16le"
        out = next(c.decode(video=0)).to_ndarray(format="rgb48le")
    assert out.dtype == np.uint16 and len(np.unique(out)) > 256  # more levels than 8 bits can hold
