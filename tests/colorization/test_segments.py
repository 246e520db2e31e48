"""Segments: plan a film, colorize the parts separately, join them without re-encoding; the result has the
whole film's frames, timestamps and audio, and smoothing carries across the cuts."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction

import av
import numpy as np
import pytest
import test_video as clips
from test_video import audio_digest, decoded_frames, film, make_clip, video_times

from colorization import build_pipeline, presets, segments
from colorization.media import VideoError, probe

film_model = clips.film_model  # the shared tiny-model fixture
one_torch_thread = clips.one_torch_thread  # autouse: see test_video.py


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("film") / "reel.mp4", frames=50, audio=True, gop=6)


def test_plan_covers_every_frame_once_and_cuts_at_keyframes(clip):
    plan = segments.plan(clip, max_frames=20)
    assert [s.index for s in plan] == list(range(len(plan))) and len(plan) >= 3
    assert plan[0].start_frame == 0 and plan[-1].end_frame == 50
    for a, b in zip(plan, plan[1:], strict=False):
        assert a.end_frame == b.start_frame and a.end_pts == b.start_pts
    assert all(1 <= s.frames <= 20 for s in plan)
    assert all(s.start_frame % 6 == 0 for s in plan)  # keyframes every 6 frames in this clip
    again = segments.Segment.from_dict(json.loads(json.dumps(plan[1].to_dict())))  # a task queue argument
    assert again == plan[1]
    with pytest.raises(ValueError):
        segments.plan(clip, max_frames=0)


@pytest.mark.parametrize("smoothing", ["flow", "window"])
def test_segments_joined_equal_the_whole_film(tmp_path, clip, film_model, smoothing):
    whole = tmp_path / "whole.mp4"
    film(film_model, smoothing).run(clip, whole)
    parts = []
    for seg in segments.plan(clip, max_frames=20):
        part = tmp_path / f"part{seg.index}.mp4"
        result = segments.colorize_segment(
            clip, seg.to_dict(), part, model=str(film_model), smoothing=smoothing, batch_size=4
        )
        assert result.info["frames"] == seg.frames and len(video_times(part)) == seg.frames
        assert audio_digest(part)[0] == 0  # parts carry video only; join adds the original sound
        parts.append(part)
    joined = tmp_path / "joined.mp4"
    info = segments.join(parts, clip, joined)
    assert info["frames"] == 50
    assert video_times(joined) == pytest.approx(video_times(clip))
    assert audio_digest(joined) == audio_digest(clip)
    assert abs(probe(joined)["duration"] - probe(clip)["duration"]) <= 1 / 12 + 1e-6
    assert "SHA-256" in probe(joined)["metadata"]["comment"]
    # the overlap decoded before each part puts the smoothing in the same state as in the whole film
    diff = [
        np.abs(a.astype(int) - b.astype(int)).mean()
        for a, b in zip(decoded_frames(whole), decoded_frames(joined), strict=True)
    ]
    assert max(diff) < 3.0, diff
    check = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(joined), "-f", "null", "-"], capture_output=True, text=True
    )
    assert check.returncode == 0 and check.stderr == ""  # B-frame parts joined into a clean stream
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["whole.mp4", "joined.mp4"] + [p.name for p in parts]
    )


def test_a_finished_segment_is_not_redone(tmp_path, clip, film_model):
    seg = segments.plan(clip, max_frames=20)[0]
    part = tmp_path / "part0.mp4"
    segments.colorize_segment(clip, seg, part, model=str(film_model))
    stamp = part.stat().st_mtime_ns
    again = segments.colorize_segment(clip, seg, part, model=str(film_model))
    assert again.info.get("skipped") and part.stat().st_mtime_ns == stamp


def test_join_refuses_missing_parts(tmp_path, clip):
    with pytest.raises(VideoError, match="missing"):
        segments.join([tmp_path / "nope.mp4"], clip, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def test_join_never_overwrites_the_original(tmp_path, clip, film_model):
    import hashlib

    seg = segments.plan(clip, max_frames=20)[0]
    part = tmp_path / "part0.mp4"
    segments.colorize_segment(clip, seg, part, model=str(film_model))
    before = hashlib.sha256(clip.read_bytes()).hexdigest()
    with pytest.raises(VideoError, match="original"):
        segments.join([part], clip, clip)
    assert hashlib.sha256(clip.read_bytes()).hexdigest() == before


def test_presets_film_is_what_segments_use():
    spec = presets.get("film", smoothing="window")
    assert spec["decode"] == "video" and spec["temporal"] == [{"name": "window"}]
    assert presets.get("film", fps=30)["decode"] == {"name": "video", "fps": 30}


def test_cli_video_by_segments(tmp_path, clip, film_model):
    import sys

    from test_video import ROOT

    dst = tmp_path / "reel-colorized.mp4"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "colorization.cli",
            "video",
            str(clip),
            "-o",
            str(dst),
            "--model",
            str(film_model),
            "--segment-frames",
            "20",
            "-q",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr
    assert video_times(dst) == pytest.approx(video_times(clip)) and audio_digest(dst) == audio_digest(clip)
    assert [p.name for p in tmp_path.iterdir()] == [dst.name]  # the parts were cleaned up


def test_pipeline_run_takes_a_frame_window(tmp_path, clip, film_model):
    pipeline = film(film_model, "window")
    decoder = pipeline.decoder
    part = tmp_path / "part.mp4"
    result = pipeline.run(clip, part, window=(12, 24))
    assert result.info["frames"] == 12 and len(video_times(part)) == 12
    assert video_times(part) == pytest.approx(video_times(clip)[12:24])  # the film's own timestamps
    assert audio_digest(part)[0] == 0  # a part carries no sound: join adds the original's
    assert pipeline.decoder is decoder  # nothing was rebuilt or patched
    whole = tmp_path / "whole.mp4"
    assert pipeline.run(clip, whole).frames == 50 and audio_digest(whole) == audio_digest(clip)
    photo = build_pipeline(presets.get("photo", model=str(film_model)))
    with pytest.raises(ValueError, match="frame window needs a film decoder"):
        photo.run(clip, tmp_path / "x.png", window=(0, 5))


def test_segments_of_one_film_load_the_model_once(tmp_path, clip, film_model):
    from colorization import api

    plan = segments.plan(clip, max_frames=20)
    options = {"model": str(film_model), "smoothing": "ema", "batch_size": 3}
    api._cached.cache_clear()
    for seg in plan:
        segments.colorize_segment(clip, seg, tmp_path / f"part{seg.index}.mp4", **options)
    assert len(plan) >= 3 and api._cached.cache_info().misses == 1
    assert api.cached_pipeline("film", **options) is api.cached_pipeline("film", **options)


def video_pts(path) -> tuple[Fraction, list[int], Fraction]:
    """Time base, every decoded frame's pts (exact integers) and the average rate the file reports."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return s.time_base, [f.pts for f in c.decode(s)], s.average_rate


def numbered_frames(folder, count: int = 12):
    from PIL import Image
    from test_video import picture

    folder.mkdir()
    for i in range(count):
        Image.fromarray(picture(i, 40, 30)).save(folder / f"frame{i:03d}.png")
    return folder


SOURCES = {  # segments of 5 frames start at times no whole number of milliseconds (1/6 s, 35/120 s...)
    "frames-30fps": lambda tmp: numbered_frames(tmp / "frames"),
    "film-30fps": lambda tmp: make_clip(tmp / "reel.mp4", frames=12, fps=30, gop=5),
    "film-vfr": lambda tmp: make_clip(tmp / "vfr.mp4", frames=12, vfr=True, gop=5),
}


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
@pytest.mark.parametrize("source", SOURCES)
def test_segmented_output_has_the_timestamps_of_the_whole_run(tmp_path, film_model, source, suffix):
    """Every frame's pts, the time base and the rate equal an unsegmented run's. MP4 parts once slipped at
    each join (steps of 502 and 517 ticks instead of 512 at 1/15360: the muxer kept a part's start in
    milliseconds) and the film said 25.7 fps instead of 30 (the parts' decode delays left gaps)."""
    src = SOURCES[source](tmp_path)
    fps = 30 if src.is_dir() else None  # the CLI's default x264 preset: B-frames, as in the report
    pipeline = build_pipeline(presets.get("film", model=str(film_model), smoothing="ema", fps=fps))
    whole = tmp_path / f"whole{suffix}"
    pipeline.run(src, whole)
    plan = segments.plan(src, max_frames=5)
    assert len(plan) == 3
    parts = [tmp_path / f"part{seg.index}{suffix}" for seg in plan]
    for seg, part in zip(plan, parts, strict=True):
        segments.colorize_segment(src, seg, part, pipeline=pipeline)
    joined = tmp_path / f"joined{suffix}"
    segments.join(parts, src, joined)
    assert video_pts(joined) == video_pts(whole)
    if source != "film-vfr":
        assert video_pts(whole)[2] == 30
    times = video_times(whole)
    expected = [i / 30 for i in range(12)] if src.is_dir() else video_times(src)
    assert times == pytest.approx(expected, abs=1e-3 if suffix == ".mkv" else 1e-9)  # Matroska counts in ms


def test_cli_folder_by_segments_keeps_the_frame_rate(tmp_path, film_model):
    """`colorize video frames/ -o out.mp4 --fps 30 --segment-frames 5` writes a 30 fps film (it wrote 24)."""
    import sys

    from test_video import ROOT

    frames = numbered_frames(tmp_path / "frames")
    dst = tmp_path / "out.mp4"
    command = [sys.executable, "-m", "colorization.cli", "video", str(frames), "-o", str(dst)]
    command += ["--model", str(film_model), "--fps", "30", "--segment-frames", "5", "-q"]
    run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert run.returncode == 0, run.stderr
    assert probe(dst)["fps"] == 30
    time_base, pts, rate = video_pts(dst)  # every frame exactly 1/30 s apart (it once slipped at each join)
    assert [p * time_base for p in pts] == [Fraction(i, 30) for i in range(12)] and rate == 30


@pytest.mark.parametrize("vfr", [False, True], ids=["cfr", "vfr"])
@pytest.mark.parametrize(("start", "stop", "pre_roll"), [(12, 18, 0), (15, 21, 2), (26, None, 4)])
def test_a_segment_seeks_and_decodes_the_frames_a_full_decode_gives(
    tmp_path, monkeypatch, vfr, start, stop, pre_roll
):
    """The window's decoder seeks to the keyframe at or before its first frame (pre-roll included) and decodes
    forward: the same frames, indices, timestamps and warm-up marks as the full decode's slice, with B-frames."""
    from colorization.frames import FrameWindow
    from colorization.media import FilmReader

    src = make_clip(tmp_path / "reel.mp4", frames=30, gop=6, vfr=vfr, options={"bf": "2"})
    decode_order = packet_pts(src)
    assert decode_order != sorted(decode_order)  # B-frames: frames are decoded out of display order
    reader = FilmReader(prefetch=0, hash=False)
    full = list(reader(src).frames)
    seeks, seek = [], FilmReader._seek

    def spy(container, stream, path, first):
        seeks.append(first)
        return seek(container, stream, path, first)

    monkeypatch.setattr(FilmReader, "_seek", staticmethod(spy))
    window = FrameWindow(start, stop, pre_roll=pre_roll)
    part = list(reader(src, window).frames)
    assert seeks == [start - pre_roll]
    expected = full[start - pre_roll : stop]
    assert [(f.index, f.pts, bool(f.info.get("warmup"))) for f in part] == [
        (f.index, f.pts, f.index < start) for f in expected
    ]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(part, expected, strict=True))


def packet_pts(path) -> list[int]:
    with av.open(str(path)) as c:
        return [p.pts for p in c.demux(video=0) if p.size]


def noise_film(path, frames: int = 64, size: tuple[int, int] = (640, 360)):
    """A film that does not compress (random pixels, lossless H.264, a keyframe every 4 frames): about 0.4 MB
    a frame, so a join that held its parts in memory would show in its peak memory."""
    rng = np.random.default_rng(7)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.gop_size = 4
        stream.options = {"preset": "ultrafast", "crf": "0", "bf": "0", "sc_threshold": "0"}
        for i in range(frames):
            image = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            vf = av.VideoFrame.from_ndarray(image, format="rgb24")
            vf.pts = i
            out.mux(stream.encode(vf))
        out.mux(stream.encode(None))
    return path


def cut_parts(src, folder, max_frames: int) -> list:
    """The film's segments as parts with its own timestamps (as a segment task writes them), cut from its
    packets without re-encoding (the network's work is not what this measures)."""
    from colorization.media.film_writer import exact_mov_timing

    folder.mkdir()
    parts = []
    for seg in segments.plan(src, max_frames=max_frames, hash=False):
        parts.append(folder / f"part{seg.index}.mp4")
        with av.open(str(src)) as film, av.open(str(parts[-1]), "w") as out:
            stream = film.streams.video[0]
            video = out.add_stream_from_template(stream)
            out.options.update(exact_mov_timing(stream.time_base))
            for packet in film.demux(stream):
                if (
                    packet.size
                    and seg.start_pts <= packet.pts
                    and (seg.end_pts is None or packet.pts < seg.end_pts)
                ):
                    packet.stream = video
                    out.mux(packet)
    return parts


JOIN_PEAK = """
import sys
from pathlib import Path
from colorization import segments
from colorization.media import probe

def status(key):  # KiB
    return int(next(line for line in open("/proc/self/status") if line.startswith(key)).split()[1])

mode, src, dst, *parts = sys.argv[1:]
probe(parts[0])  # the libraries loaded before the baseline
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # peak RSS := current RSS (Linux)
before = status("VmRSS:")
held = [Path(p).read_bytes() for p in parts] if mode == "hold" else []  # the control: parts in memory
segments.join(parts, src, dst)
print(before, status("VmHWM:"))
"""


def join_peak_growth(mode: str, src, dst, parts) -> float:
    """MiB the join's process grew by at its peak, above what it held before the join began."""
    import sys

    from test_video import ROOT

    command = [sys.executable, "-c", JOIN_PEAK, mode, str(src), str(dst), *map(str, parts)]
    run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    before, peak = (int(v) for v in run.stdout.split())
    return (peak - before) / 1024


def test_the_join_streams_its_parts_in_bounded_memory_and_keeps_every_timestamp(tmp_path):
    """Joined from 2 or from 8 parts, the film has the timestamps of the unsegmented one frame for frame, and
    the join's peak memory (measured in a process of its own) stays within 8 MiB of where it began, however
    many parts, where holding the parts' 20+ MiB in memory (the control) shows."""
    src = noise_film(tmp_path / "noise.mp4")
    growth = {}
    for count, max_frames in ((2, 32), (8, 8)):
        parts = cut_parts(src, tmp_path / f"parts{count}", max_frames)
        assert len(parts) == count and sum(p.stat().st_size for p in parts) > 20 * 2**20
        joined = tmp_path / f"joined{count}.mp4"
        growth[count] = join_peak_growth("join", src, joined, parts)
        assert video_pts(joined) == video_pts(src)
    control = join_peak_growth("hold", src, tmp_path / "control.mp4", parts)
    assert control > 20, control  # the measurement sees a join that keeps its parts in memory
    assert growth[2] < 8 and growth[8] < 8, growth
    assert growth[8] < growth[2] + 4, growth
