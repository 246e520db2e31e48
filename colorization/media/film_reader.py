"""Films in with PyAV: frames stream in in bounded memory.

`FilmReader` opens a film file (MP4/MOV/MKV/AVI/WebM, any codec FFmpeg decodes) or a folder of numbered
images (PNG/TIFF/DPX/JPEG) -> `Decoded` whose frames carry RGB uint8 (uint16 for sources deeper than 8 bits),
their presentation timestamp, time base and duration; a frame window picks frames [start, stop). A reader
thread decodes ahead into a small queue.
"""

from __future__ import annotations

import heapq
import os
import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

from colorization.frames import WHOLE, Decoded, Frame, FrameWindow
from colorization.media import policy
from colorization.media.containers import (
    VideoError,
    av_message,
    check_size,
    frame_timestamps,
    numbered_images,
    open_input,
    video_stream,
)
from colorization.media.files import sha256_file

_END = object()


def _stream_seconds(container, stream) -> float | None:
    """How long the header says the video stream lasts (stream duration, Matroska's DURATION tag, or the
    container's duration when the video is the only stream)."""
    if stream.duration:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if tag:
        try:
            h, m, sec = tag.split(":")
            return int(h) * 3600 + int(m) * 60 + float(sec)
        except ValueError:
            pass
    if container.duration and len(container.streams) == 1:
        return container.duration / 1_000_000
    return None


def _presentation_timestamps(frames: Iterable, depth: int = 8) -> Iterator[tuple[Any, int | None]]:
    """(frame, pts) with each frame given the smallest timestamp still pending.

    Decoders return frames in presentation order, but some containers (AVI with B-frames) stamp them with
    the timestamps of packets in decode order (1, 2, 4, 3, ...). Sorting within a short window, as FFmpeg
    does, restores them; for well-behaved files it changes nothing.
    """
    pending: deque = deque()
    stamps: list[int] = []
    for vf in frames:
        pending.append(vf)
        if vf.pts is not None:
            heapq.heappush(stamps, vf.pts)
        if len(pending) > depth:
            yield pending.popleft(), heapq.heappop(stamps) if stamps else None
    while pending:
        yield pending.popleft(), heapq.heappop(stamps) if stamps else None


def _rgb_format(av_format) -> str:
    deep = av_format is not None and any(c.bits > 8 for c in av_format.components)
    return "rgb48le" if deep else "rgb24"


class _Reader(threading.Thread):
    """Runs a frame generator in a thread, handing frames over through a bounded queue."""

    def __init__(self, source: Iterator[Frame], depth: int):
        super().__init__(daemon=True, name="video-decode")
        self.source, self.queue, self.stop = source, queue.Queue(maxsize=depth), threading.Event()

    def run(self) -> None:
        try:
            for item in self.source:
                while not self.stop.is_set():
                    try:
                        self.queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self.stop.is_set():
                    break
            item = _END
        except BaseException as exc:  # handed to the consumer, which raises it
            item = exc
        finally:
            close = getattr(self.source, "close", None)
            if close is not None:
                close()
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def frames(self) -> Iterator[Frame]:
        self.start()
        try:
            while True:
                item = self.queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.stop.set()
            self.join(timeout=5)


class FilmReader:
    """Open a video file or a folder of numbered images: `reader(path, window)` -> Decoded.

    A `FrameWindow` selects frames [start, stop) by presentation order (segments); its pre- and post-roll
    frames are decoded too and marked `info["warmup"] = True`, and the Decoded's info says `window`. `sha256`,
    when the caller knows it, saves hashing the film again. `fps` is the rate of a folder of images.
    """

    windowed = True  # Pipeline.run hands a frame window to decoders that say so

    def __init__(self, prefetch: int = 16, fps: float | str = 24, hash: bool = True, threads: int = 0):
        self.prefetch, self.fps, self.hash, self.threads = prefetch, Fraction(str(fps)), hash, threads

    def __call__(
        self, path: str | os.PathLike, window: FrameWindow = WHOLE, sha256: str | None = None
    ) -> Decoded:
        path = Path(path)
        decoded = self._open_folder(path, window) if path.is_dir() else self._open_file(path, window, sha256)
        decoded.info["window"] = None if window.whole else (window.start, window.stop)
        return decoded

    def _threaded(self, source: Iterator[Frame]) -> Iterator[Frame]:
        """Decode ahead in a thread (`prefetch` frames); prefetch=0 decodes in the caller's thread."""
        return _Reader(source, self.prefetch).frames() if self.prefetch > 0 else source

    @staticmethod
    def _mark(frame: Frame, window: FrameWindow) -> Frame:
        if window.is_warmup(frame.index):
            frame.info["warmup"] = True
        return frame

    # -- files
    def _open_file(self, path: Path, window: FrameWindow, sha256: str | None) -> Decoded:
        container = open_input(path)
        try:
            stream = video_stream(container, path)
            cc = stream.codec_context
            if cc is None or cc.codec is None or not cc.codec.is_decoder:
                raise VideoError(
                    f"{path}: unsupported video codec ({stream.codec_context.name if cc else 'unknown'})"
                )
            check_size(path, stream.width, stream.height)
            fps = stream.guessed_rate or stream.average_rate or self.fps
            total = stream.frames or None
            if total is None and stream.duration and fps:
                total = round(float(stream.duration * stream.time_base * fps))
            info = {
                "path": str(path),
                "name": path.name,
                "size": path.stat().st_size,
                "kind": "video",
                "codec": cc.name,
                "width": stream.width,
                "height": stream.height,
                "time_base": stream.time_base,
                "sar": stream.sample_aspect_ratio,
                "frames_expected": total,
            }
        except BaseException:
            container.close()
            raise
        if sha256 or self.hash:
            info["sha256"] = sha256 or sha256_file(path)
        first, stop = window.first_decoded(), window.stop_decoded(total)
        count = None if total is None else max(0, (stop or total) - first)
        source = self._decode_file(container, path, total, info, window)
        return Decoded(frames=self._threaded(source), count=count, fps=Fraction(fps), info=info)

    def _decode_file(
        self, container, path: Path, total: int | None, info: dict, window: FrameWindow
    ) -> Iterator[Frame]:
        import av

        stream = video_stream(container, path)
        stream.thread_type = "AUTO"
        if self.threads:
            stream.codec_context.thread_count = self.threads
        first, stop = window.first_decoded(), window.stop_decoded(None)
        index, fmt, last_pts, pts_index = 0, None, None, None
        # read now: the stream object must not be touched once the container is closed
        time_base, fps = stream.time_base, stream.guessed_rate or self.fps
        size = (stream.width, stream.height)
        expected = _stream_seconds(container, stream)
        try:
            if first > 0:
                pts_index = self._seek(container, stream, path, first)
            for vf, pts in _presentation_timestamps(container.decode(stream)):
                if pts_index is not None:  # after a seek, a frame's place comes from its timestamp
                    index = pts_index.get(pts, -1)
                if index < first:
                    index += pts_index is None
                    continue
                if stop is not None and index >= stop:
                    break
                if (vf.width, vf.height) != size:
                    check_size(path, vf.width, vf.height)  # a size change mid-film meets the limit too
                fmt = fmt or _rgb_format(vf.format)
                if pts is None or (last_pts is not None and pts <= last_pts):
                    pts = 0 if last_pts is None else last_pts + max(1, round(1 / (fps * time_base)))
                last_pts = pts
                frame = Frame(index=index, image=vf.to_ndarray(format=fmt), pts=pts, time_base=time_base)
                frame.info.update(
                    duration=vf.duration or None,
                    rotation=vf.rotation,
                    key_frame=vf.key_frame,
                    color=(vf.colorspace, vf.color_range, vf.color_primaries, vf.color_trc),
                )
                yield self._mark(frame, window)
                index += 1
        except av.FFmpegError as exc:
            raise VideoError(
                f"{path}: decoding failed at frame {index} ({av_message(exc)}; file corrupt or truncated?)"
            ) from None
        finally:
            container.close()
        info["frames_decoded"] = index - first
        if index == 0:
            raise VideoError(f"{path}: contains no video frames")
        # a file cut short may still say in its header how many frames (and how long) it should have;
        # AVI counts dropped-frame slots as frames, so the time must be short too
        if stop is None and last_pts is not None:
            reached = float(last_pts * time_base)
            short_in_time = expected is not None and expected - reached > max(2 / float(fps), expected / 100)
            short_in_frames = total is not None and total - index > max(2, total // 100)
            if short_in_time and (short_in_frames or total is None):
                raise VideoError(
                    f"{path}: truncated: decoded {index} frames ({reached:.2f} s) of the "
                    f"{total or '?'} frames ({expected:.2f} s) its header announces"
                )

    @staticmethod
    def _seek(container, stream, path: Path, first: int) -> dict[int, int]:
        """Seek to the keyframe at or before frame `first`; returns {pts: frame index} for the whole film."""
        pts_list = frame_timestamps(path)
        if first < len(pts_list):
            container.seek(pts_list[first], stream=stream, backward=True, any_frame=False)
        return {p: i for i, p in enumerate(pts_list)}

    # -- folders of numbered images
    def _open_folder(self, folder: Path, window: FrameWindow) -> Decoded:
        files = numbered_images(folder)
        if not files:
            raise VideoError(
                f"{folder}: the folder holds no images ({', '.join(sorted(policy.FRAME_SUFFIXES))})"
            )
        first, stop = window.first_decoded(), window.stop_decoded(len(files))
        time_base = 1 / self.fps
        info = {
            "path": str(folder),
            "name": folder.name,
            "kind": "images",
            "codec": "images",
            "time_base": time_base,
            "frames_expected": len(files),
            "sha256": None,
        }

        def frames() -> Iterator[Frame]:
            import av

            fmt, size = None, None
            for index in range(first, stop):
                file = files[index]
                try:
                    with av.open(str(file)) as container:
                        stream = video_stream(container, file)
                        check_size(file, stream.width, stream.height)
                        vf = next(container.decode(stream))
                except (av.FFmpegError, StopIteration) as exc:
                    raise VideoError(f"{file}: not a readable image ({av_message(exc)})") from None
                fmt = fmt or _rgb_format(vf.format)
                size = size or (vf.width, vf.height)
                if (vf.width, vf.height) != size:
                    raise VideoError(
                        f"{file}: {vf.width}x{vf.height}, but the first frame is {size[0]}x{size[1]}"
                    )
                frame = Frame(index=index, image=vf.to_ndarray(format=fmt), pts=index, time_base=time_base)
                frame.info.update(duration=1, rotation=0, key_frame=True, source=file.name)
                yield self._mark(frame, window)
            info["frames_decoded"] = stop - first

        return Decoded(frames=self._threaded(frames()), count=stop - first, fps=self.fps, info=info)
