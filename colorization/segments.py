"""Cut a film into segments, colorize each on its own (on any worker), join them without re-encoding.

    parts = [colorize_segment(src, seg, f"part{seg.index:04d}.mp4") for seg in plan(src, max_frames=300)]
    join([p.dst for p in parts], src, "film-colorized.mp4")

`plan` cuts at keyframes (encoders place them at scene cuts), each segment at most `max_frames` long.
`colorize_segment` runs a pipeline over a frame window (`Pipeline.run(window=...)`), which decodes a few frames
before (and, for centred windows, after) its range so temporal smoothing enters the segment in the state it would have had running over the whole film; those frames are
not written. Every part keeps the film's own presentation timestamps, exactly (MP4 included), so `join` is a
remux of the parts' video packets in order, with decode timestamps laid out anew for the whole film, and the
original audio and subtitle streams copied from the source. Segments are plain
dicts for a task queue (`Segment.to_dict` / `Segment.from_dict`); every write is atomic, and a part that
already exists is not redone (tasks may be delivered twice). Give the parts the final file's suffix and the
same options (codec, quality), so their streams can be joined; `join` refuses parts that differ.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from colorization.media.containers import VideoError, numbered_images, open_input, packets, video_stream
from colorization.media.files import atomic_path, sha256_file
from colorization.media.film_writer import container_format, exact_mov_timing
from colorization.media.mp4_xmp import append_xmp
from colorization.media.remux import StreamCopier
from colorization.pipeline import Pipeline, ProgressCallback, RunResult


@dataclass
class Segment:
    index: int
    start_frame: int  # first frame (presentation order), inclusive
    end_frame: int  # exclusive
    start_pts: int | None = None
    end_pts: int | None = None  # pts of frame `end_frame`, None at the end of the film
    total_frames: int = 0
    source_sha256: str | None = None

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        return cls(**data)


def plan(src: str | os.PathLike, max_frames: int = 300, hash: bool = True) -> list[Segment]:
    """Segments of at most `max_frames` frames, ending at keyframes where there is one in the second half."""
    if max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    src = Path(src)
    items = _frame_items(src)
    n = len(items)
    keyframes = [i for i, (_, key) in enumerate(items) if key]
    digest = sha256_file(src) if hash and src.is_file() else None
    bounds = _bounds(n, keyframes, max_frames)
    return [
        Segment(
            index=i,
            start_frame=s,
            end_frame=e,
            start_pts=items[s][0],
            end_pts=items[e][0] if e < n else None,
            total_frames=n,
            source_sha256=digest,
        )
        for i, (s, e) in enumerate(bounds)
    ]


def _frame_items(src: Path) -> list[tuple[int, bool]]:
    """(pts, is keyframe) for each frame of a film in presentation order; every image of a folder is a keyframe."""
    if src.is_dir():
        items = [(i, True) for i in range(len(numbered_images(src)))]
    else:
        items = packets(src)
    if not items:
        raise VideoError(f"{src}: contains no video frames")
    return items


def _bounds(n: int, keyframes: list[int], max_frames: int) -> list[tuple[int, int]]:
    """[start, end) of each segment: at most `max_frames` long, ending at the last keyframe in its second half
    where there is one."""
    bounds, start = [], 0
    while start < n:
        limit = start + max_frames
        end = n
        if limit < n:
            cuts = [k for k in keyframes if start + max_frames // 2 < k <= limit]
            end = cuts[-1] if cuts else limit
        bounds.append((start, end))
        start = end
    return bounds


def colorize_segment(
    src: str | os.PathLike,
    segment: Segment | dict,
    dst: str | os.PathLike,
    preset: str = "film",
    on_progress: ProgressCallback | None = None,
    pipeline: Pipeline | None = None,
    hints: list | None = None,
    **options: Any,
) -> RunResult:
    """Colorize frames [start_frame, end_frame) of `src` into `dst` (video only; `join` adds the audio), with
    `pipeline` or else the process's cached one for `preset` and `options` (the model loads once). `hints`:
    colour hints with their keyframes (colorization.hints); a point is carried to the end of its shot or of
    the segment, whichever comes first."""
    from colorization.api import cached_pipeline

    src, dst = Path(src), Path(dst)
    seg = Segment.from_dict(segment) if isinstance(segment, dict) else segment
    if dst.exists():  # written atomically, so an existing part is a finished one
        return RunResult(frames=seg.frames, seconds=0.0, dst=dst, info={"skipped": True})
    pipeline = pipeline or cached_pipeline(preset, **options)
    result = pipeline.run(
        src,
        dst,
        on_progress=on_progress,
        window=(seg.start_frame, seg.end_frame),
        source_sha256=seg.source_sha256,
        hints=hints,
    )
    written = result.info.get("frames")
    if written != seg.frames:
        dst.unlink(missing_ok=True)
        raise VideoError(f"{src}: segment {seg.index} wrote {written} frames, expected {seg.frames}")
    return result


def join(
    parts: list[str | os.PathLike],
    src: str | os.PathLike,
    dst: str | os.PathLike,
    xmp: bytes | None = None,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Concatenate colorized parts (no re-encoding) and copy the source's audio/subtitles into `dst`. `xmp`:
    the whole film's packet (media.film_writer.film_xmp), added to an MP4/MOV; `tags`: container tags beside
    the parts' description (media.film_writer.rights_tags)."""
    import av

    parts, src, dst = [Path(p) for p in parts], Path(src), Path(dst)
    _check_join(parts, src, dst)
    fmt = container_format(dst)
    dropped: list = []
    with atomic_path(dst) as tmp:
        with av.open(str(tmp), "w", format=fmt) as out:
            video, settings = _video_output(out, parts[0], tags)
            _, time_base = settings
            copier = StreamCopier(src, out, dropped) if src.is_file() else None
            if fmt in ("mp4", "mov"):
                out.options.update({**exact_mov_timing(time_base), "movflags": "+faststart"})
            decode_times = iter(_decode_timestamps(parts))
            try:
                frames = _mux_parts(out, video, parts, settings, decode_times, copier)
            finally:
                if copier is not None:
                    copier.close()
        if xmp and fmt in ("mp4", "mov"):
            append_xmp(tmp, xmp)
    return {"frames": frames, "parts": len(parts), "dst": str(dst), "dropped_streams": dropped}


def _check_join(parts: list[Path], src: Path, dst: Path) -> None:
    """There are parts, all on disk, and `dst` is not the original film."""
    if not parts:
        raise ValueError("join needs at least one part")
    if dst.exists() and src.exists() and os.path.samefile(src, dst):
        raise VideoError(f"{dst}: refusing to overwrite the original film")
    for part in parts:
        if not part.is_file():
            raise VideoError(f"{part}: segment file is missing")


def _video_output(out, first_part: Path, tags: dict[str, str] | None) -> tuple[Any, tuple[Any, Any]]:
    """The joined file's video stream, made from the first part's, with that part's description and `tags`;
    and the (extradata, time base) every part must share to be joined."""
    with open_input(first_part) as first:
        template = video_stream(first, first_part)
        settings = (template.codec_context.extradata, template.time_base)
        video = out.add_stream_from_template(template)
        video.codec_context.framerate = template.average_rate  # Matroska's default frame duration
        out.metadata.update({k: v for k, v in first.metadata.items() if k in ("comment", "description")})
        out.metadata.update(tags or {})
    return video, settings


def _mux_parts(
    out,
    video,
    parts: list[Path],
    settings: tuple[Any, Any],
    decode_times: Iterator[int],
    copier: StreamCopier | None,
) -> int:
    """Mux every part's video packets into `video` with the whole film's `decode_times`, the source's other
    streams (`copier`) interleaved by time; the number of packets written."""
    frames = 0
    for part in parts:
        with open_input(part) as container:
            stream = video_stream(container, part)
            if (stream.codec_context.extradata, stream.time_base) != settings:
                raise VideoError(f"{part}: encoded with other settings than {parts[0].name}; cannot join")
            for packet in _video_packets(container, stream):
                packet.dts = next(decode_times)
                if copier is not None:
                    copier.mux_until(out, float(packet.dts * packet.time_base))
                packet.stream = video
                out.mux(packet)
                frames += 1
    if copier is not None:
        copier.mux_until(out, None)
    return frames


def _video_packets(container, stream) -> Iterator:
    """The stream's packets that hold data (demuxing ends with empty ones)."""
    return (packet for packet in container.demux(stream) if packet.size > 0)


def _decode_timestamps(parts: list[Path]) -> list[int]:
    """The joined video's decode timestamps, one per packet in decode order (in the parts' time base).

    The parts' own do not line up: each part's encoder chose its decode delay alone (x264 takes it from the
    first frames' timestamps; a part of one or two frames has none), and the gaps they left at the joins
    lengthened the film (25.7 fps where its frames said 30). So, as the encoder does for a whole film, packet
    k decodes at the presentation time of frame k - `delay`, and the first `delay` packets come as much before
    the first frame as frame `delay` comes after it. `delay` is the most packets any part decoded before its
    first frame, and never less than the deepest reordering, so that no packet decodes after it is shown.
    """
    order, delay = [], 0  # presentation timestamps in decode order
    for part in parts:
        with open_input(part) as container:
            stream = video_stream(container, part)
            stamps = [(packet.pts, packet.dts) for packet in _video_packets(container, stream)]
        if not stamps:
            raise VideoError(f"{part}: the segment file holds no video frames")
        start = min(pts for pts, _ in stamps)
        delay = max(delay, sum(dts is not None and dts < start for _, dts in stamps))
        order += [pts for pts, _ in stamps]
    ranked = sorted(order)
    rank = {pts: r for r, pts in enumerate(ranked)}
    reordering = max(k - rank[pts] for k, pts in enumerate(order))
    delay = min(max(delay, reordering), len(order) - 1)
    lead = ranked[delay] - ranked[0]
    return [ranked[k - delay] if k >= delay else ranked[k] - lead for k in range(len(order))]
