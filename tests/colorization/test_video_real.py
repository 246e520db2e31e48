"""Every real clip in ../shared/data/video (and video/people, GIF previews too) goes through the film preset
with flow smoothing and keeps its frame count, duration and audio.

To stay within a few minutes on a 2-core CPU the frames are shrunk to 160 px (`max_side`), the network is a
width-4 U-Net at 64 px and x264 runs at its fastest preset: what is checked here is the film plumbing
(decoders, timestamps, audio remux), not the picture. The picture path at full size is tested on the
generated clips in test_video.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import test_video as clips
from test_video import audio_digest, video_times

from colorization import build_pipeline, presets
from colorization.media import frame_timestamps, probe

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "video"
SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".gif"}
CLIPS = sorted(p for p in DATA.rglob("*") if p.suffix.lower() in SUFFIXES) if DATA.is_dir() else []
film_model = clips.film_model
one_torch_thread = clips.one_torch_thread  # autouse: see test_video.py


@pytest.mark.skipif(not CLIPS, reason=f"no real clips at {DATA} (the shared data folder is absent)")
@pytest.mark.parametrize("src", CLIPS, ids=[str(p.relative_to(DATA)) for p in CLIPS])
def test_real_clip_keeps_frames_duration_and_audio(tmp_path, film_model, src):
    spec = presets.get("film", model=str(film_model), smoothing="flow", max_side=160, batch_size=8)
    spec["encode"]["preset"] = "ultrafast"
    dst = tmp_path / f"{src.stem}-colorized.mp4"
    result = build_pipeline(spec).run(src, dst)
    frames = len(frame_timestamps(src))
    assert result.frames == frames == len(video_times(dst))
    a, b = probe(src), probe(dst)
    if a["duration"] and a["fps"]:
        assert abs(b["duration"] - a["duration"]) <= 1.01 / float(a["fps"])
    assert audio_digest(dst) == audio_digest(src)
    assert "SHA-256" in b["metadata"]["comment"]
