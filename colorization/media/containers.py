"""Film containers with PyAV: open, find the video stream, list its packets and what the header says, without
decoding (`film_reader` decodes, `film_writer` encodes, `remux` copies the other streams)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from colorization.media import policy


class VideoError(policy.RefusedMedia):
    """A video that cannot be read or written; the message names the file and the reason."""


def numbered_images(folder: Path) -> list[Path]:
    """Image files of a folder in natural numeric order (frame2 before frame10)."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in policy.FRAME_SUFFIXES]

    def key(p: Path):
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]

    return sorted(files, key=key)


def av_message(exc: Exception) -> str:
    text = str(exc).split(": '", 1)[0]  # PyAV appends the file name; we name it ourselves
    return text.strip() or type(exc).__name__


def open_input(path: Path):
    import av

    if not path.exists():
        raise VideoError(f"{path}: no such file")
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise VideoError(
            f"{path}: not a readable video ({av_message(exc)}; truncated or not a video file?)"
        ) from None


def check_size(path: Path, width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise VideoError(f"{path}: the video stream has no valid size ({width}x{height})")
    policy.check_pixels(path, width, height, error=VideoError)


def video_stream(container, path: Path):
    """The first video stream (attached cover pictures do not count), or a clear error."""
    for stream in container.streams.video:
        if not (stream.disposition & 1024):  # AV_DISPOSITION_ATTACHED_PIC
            return stream
    raise VideoError(f"{path}: has no video stream")


def packets(src: Path) -> list[tuple[int, bool]]:
    """(pts, keyframe) of every video packet, in presentation order (demux only, no decoding)."""
    items = []
    with open_input(src) as container:
        stream = video_stream(container, src)
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            pts = packet.pts if packet.pts is not None else packet.dts
            if pts is not None:
                items.append((pts, packet.is_keyframe))
    items.sort()
    return items


def frame_timestamps(src: str | os.PathLike) -> list[int]:
    """Presentation timestamp of every frame of a film, in order (folders: 0..n-1)."""
    src = Path(src)
    if src.is_dir():
        return list(range(len(numbered_images(src))))
    return [pts for pts, _ in packets(src)]


def probe(path: str | os.PathLike) -> dict[str, Any]:
    """What a video file says about itself, without decoding: size, frames, rate, time base, streams."""
    path = Path(path)
    with open_input(path) as container:
        stream = video_stream(container, path)
        cc = stream.codec_context
        duration = None
        if stream.duration is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        return {
            "path": str(path),
            "codec": cc.name if cc is not None else None,
            "width": stream.width if cc is not None else 0,
            "height": stream.height if cc is not None else 0,
            "frames": stream.frames or None,
            "fps": stream.guessed_rate or stream.average_rate,
            "time_base": stream.time_base,
            "duration": duration,
            "sar": stream.sample_aspect_ratio,
            "audio": [s.codec_context.name for s in container.streams.audio if s.codec_context is not None],
            "subtitles": len(container.streams.subtitles),
            "metadata": dict(container.metadata),
        }


# How far short of the duration its header states a film's last packet may end (rounding, a last frame's length,
# an audio stream a little longer than its video) before the film counts as cut short.
END_TOLERANCE_S = 1.0
TAIL_S = (
    5.0  # how much of the end is read to find the last packets (from the index, else demuxed from the start)
)


def check_complete(path: str | os.PathLike) -> None:
    """VideoError unless the packets of `path` reach the duration its header states, read cheaply: a seek to the
    last seconds through the container's index and a demux of the packets there, without decoding. A fast-start
    MP4 or an MKV cut short keeps its header's duration but loses its last packets; a film whose header states no
    duration is not checked. The packets near the end must also demux without error."""
    import av

    path = Path(path)
    with open_input(path) as container:
        video = video_stream(container, path)
        if container.duration is None or container.duration <= 0:
            return
        stated = container.duration / 1_000_000 + (container.start_time or 0) / 1_000_000
        try:
            end = _last_end(container, video, max(0.0, stated - TAIL_S))
            if end is None:  # the index could not reach the end: read every packet from the start instead
                container.seek(0)
                end = _last_end(container, video, None)
        except av.FFmpegError as exc:
            raise VideoError(
                f"{path}: the end of the film cannot be read ({av_message(exc)}); cut short?"
            ) from None
    if end is None or end < stated - END_TOLERANCE_S:
        found = "no packet" if end is None else f"packets to {end:.1f} s"
        raise VideoError(
            f"{path}: cut short: its header says it lasts {stated:.1f} s, but the file holds {found}; "
            "upload the whole file again"
        )


def _last_end(container, video, start: float | None) -> float | None:
    """The latest end time (seconds) of any packet demuxed from `start` seconds on (None: from where the container
    stands), or None when the seek found nothing there."""
    if start is not None:
        container.seek(int(start * 1_000_000), backward=True, any_frame=False)
    end = None
    for packet in container.demux():
        if packet.size == 0 or packet.time_base is None:
            continue
        ts = packet.pts if packet.pts is not None else packet.dts
        if ts is None:
            continue
        stop = float((ts + (packet.duration or 0)) * packet.time_base)
        end = stop if end is None else max(end, stop)
    return end


# The longest a film's frame may stay on screen before the next one. A recording holds a still for seconds at
# most; a gap of hours between two frames' timestamps is damage or a broken muxer (ten frames said to last ten
# hours), which the upload refuses rather than the colorization failing on it later.
MAX_FRAME_GAP_S = 60.0


def check_first_frame(path: str | os.PathLike) -> None:
    """VideoError unless the first frame of the film's video stream decodes (a header can open over data that
    cannot)."""
    import av

    path = Path(path)
    try:
        with open_input(path) as container:
            if next(container.decode(video_stream(container, path)), None) is None:
                raise VideoError(f"{path}: no frame of its video could be decoded")
    except av.FFmpegError as exc:
        raise VideoError(f"{path}: its first frame cannot be decoded ({av_message(exc)})") from None


def check_frame_gaps(path: str | os.PathLike, max_gap_s: float = MAX_FRAME_GAP_S) -> None:
    """VideoError when two consecutive frames of `path` (in presentation order) lie more than `max_gap_s`
    seconds apart; demuxes the video packets, without decoding."""
    path = Path(path)
    with open_input(path) as container:
        time_base = video_stream(container, path).time_base
    stamps = frame_timestamps(path)
    if time_base is None or len(stamps) < 2:
        return
    gaps = [(b - a, i) for i, (a, b) in enumerate(zip(stamps, stamps[1:], strict=False))]
    gap, i = max(gaps)
    seconds = float(gap * time_base)
    if seconds > max_gap_s:
        at = float((stamps[i] - stamps[0]) * time_base)
        raise VideoError(
            f"{path}: its frames' timestamps jump by {seconds:,.0f} s after frame {i + 1} (at {at:.1f} s); "
            f"a film's frames may lie at most {max_gap_s:.0f} s apart: remux or re-encode it with "
            "continuous timestamps"
        )
