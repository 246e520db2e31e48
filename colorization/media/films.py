"""Films in and out with PyAV: frames stream in and out in bounded memory.

`FilmReader` opens a film file (MP4/MOV/MKV/AVI/WebM, any codec FFmpeg decodes) or a folder of numbered
images (PNG/TIFF/DPX/JPEG) -> `Decoded` whose frames carry RGB uint8 (uint16 for sources deeper than 8 bits),
their presentation timestamp, time base and duration; a frame window picks frames [start, stop). A reader
thread decodes ahead into a small queue.

`FilmWriter` writes H.264 yuv420p in MP4 (CRF quality) by default, lossless FFV1 in MKV for archival masters.
Timestamps (so variable frame rate), time base, rotation and SAR are kept; audio and subtitle streams of the
source are remuxed untouched, interleaved with the video as it is written. A writer thread encodes while the
caller's thread runs the network. The file is written atomically (`files.atomic_path`).
"""

from __future__ import annotations

import heapq
import os
import queue
import re
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from colorization.frames import WHOLE, Decoded, Frame, FrameWindow
from colorization.media import policy
from colorization.media.files import atomic_path, sha256_file

CONTAINER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}
_END = object()


class VideoError(policy.RefusedMedia):
    """A video that cannot be read or written; the message names the file and the reason."""


# ---------------------------------------------------------------- helpers
def numbered_images(folder: Path) -> list[Path]:
    """Image files of a folder in natural numeric order (frame2 before frame10)."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in policy.FRAME_SUFFIXES]

    def key(p: Path):
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]

    return sorted(files, key=key)


def _av_message(exc: Exception) -> str:
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
            f"{path}: not a readable video ({_av_message(exc)}; truncated or not a video file?)"
        ) from None


def _check_size(path: Path, width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise VideoError(f"{path}: the video stream has no valid size ({width}x{height})")
    policy.check_pixels(path, width, height, error=VideoError)


def video_stream(container, path: Path):
    """The first video stream (attached cover pictures do not count), or a clear error."""
    for stream in container.streams.video:
        if not (stream.disposition & 1024):  # AV_DISPOSITION_ATTACHED_PIC
            return stream
    raise VideoError(f"{path}: has no video stream")


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


def _rgb_format(av_format) -> str:
    deep = av_format is not None and any(c.bits > 8 for c in av_format.components)
    return "rgb48le" if deep else "rgb24"


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


# ---------------------------------------------------------------- decode
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
            _check_size(path, stream.width, stream.height)
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
                    _check_size(path, vf.width, vf.height)  # a size change mid-film meets the limit too
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
                f"{path}: decoding failed at frame {index} ({_av_message(exc)}; file corrupt or truncated?)"
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
                        _check_size(file, stream.width, stream.height)
                        vf = next(container.decode(stream))
                except (av.FFmpegError, StopIteration) as exc:
                    raise VideoError(f"{file}: not a readable image ({_av_message(exc)})") from None
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


# ---------------------------------------------------------------- encode
def provenance_text(source: dict[str, Any], context: dict[str, Any]) -> str:
    """The container's description: AI colorization, by which model, of which original (+ its SHA-256)."""
    from colorization.provenance import description

    text = description(
        str(context.get("model", "an unknown model")),
        str(context.get("model_version") or ""),
        str(source.get("name", "?")),
        hints=int(context.get("colour_hints") or 0),
        strokes=int(context.get("colour_hint_strokes") or 0),
    )
    extra = [f"Original SHA-256 {source['sha256']}"] if source.get("sha256") else []
    if context.get("smoothing"):
        extra.append(f"temporal smoothing {context['smoothing']}")
    if context.get("colour_strength"):
        extra.append(f"colour strength {context['colour_strength']}")
    return text + (f" {'; '.join(extra)}." if extra else "")


class StreamCopier:
    """Remuxes the audio and subtitle packets of `src` into `out` untouched, interleaved by time."""

    def __init__(self, src: Path, out, log: list[str]):
        self.container, self.map, self.pending = None, {}, None
        if src is None or not src.is_file():
            return
        container = open_input(src)
        supported = out.supported_codecs
        for stream in list(container.streams.audio) + list(container.streams.subtitles):
            name = stream.codec_context.name if stream.codec_context is not None else None
            if name is None or name not in supported:
                log.append(
                    f"stream {stream.index} ({stream.type} {name}) cannot go in this container: left out"
                )
                continue
            self.map[stream.index] = out.add_stream_from_template(stream)
        if not self.map:
            container.close()
            return
        self.container = container
        self.packets = container.demux([container.streams[i] for i in self.map])

    def mux_until(self, out, seconds: float | None) -> None:
        """Mux every copied packet whose time is before `seconds` (all of them when None)."""
        if self.container is None:
            return
        while True:
            if self.pending is None:
                try:
                    packet = next(self.packets)
                except StopIteration:
                    self.close()
                    return
                if packet.size == 0 or packet.stream.index not in self.map:
                    continue
                self.pending = packet
            ts = self.pending.dts if self.pending.dts is not None else self.pending.pts
            if seconds is not None and ts is not None and float(ts * self.pending.time_base) > seconds:
                return
            self.pending.stream = self.map[self.pending.stream.index]
            out.mux(self.pending)
            self.pending = None

    def close(self) -> None:
        if self.container is not None:
            self.container.close()
            self.container = None


def container_format(dst: Path) -> str:
    fmt = CONTAINER_FORMATS.get(dst.suffix.lower())
    if fmt is None:
        raise VideoError(
            f"{dst}: unsupported output type {dst.suffix!r}; use one of {sorted(CONTAINER_FORMATS)}"
        )
    return fmt


def exact_mov_timing(time_base: Fraction) -> dict[str, str]:
    """MP4/MOV muxer options under which a video track whose first frame is not at 0 is read back with its exact
    timestamps. The muxer keeps that start in an edit list counted in the movie's timescale, 1/1000 s by
    default, so a segment starting at frame 5 of a 30 fps film was read back 0.65 ms early and the joined film
    slipped at every join; giving the movie the track's own timescale keeps the start exact. The track's
    timescale is the muxer's own choice, said explicitly: the time base's denominator, doubled to >= 10000."""
    scale = Fraction(time_base).denominator
    while scale < 10000:
        scale *= 2
    return {"video_track_timescale": str(scale), "movie_timescale": str(scale)}


class _Writer(threading.Thread):
    """Encodes and muxes in its own thread; the caller's thread keeps running the network meanwhile."""

    def __init__(self, encoder: FilmWriter, tmp: Path, fmt: str, decoded: Decoded, context: dict, depth: int):
        super().__init__(daemon=True, name="video-encode")
        self.enc, self.tmp, self.fmt, self.decoded, self.context = encoder, tmp, fmt, decoded, context
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.written: dict[str, Any] = {}

    def put(self, item) -> None:
        while self.is_alive():
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        if self.error is not None:
            raise self.error
        raise VideoError(f"{self.tmp}: the video writer stopped unexpectedly")

    def run(self) -> None:
        try:
            self._encode()
        except BaseException as exc:
            self.error = exc
            while True:  # unblock a producer waiting on a full queue
                try:
                    self.queue.get_nowait()
                except queue.Empty:
                    break

    def _frames(self) -> Iterator[Frame]:
        while (item := self.queue.get()) is not _END:
            yield item

    def _encode(self, frames: Iterator[Frame] | None = None) -> None:
        import av

        frames = iter(frames) if frames is not None else self._frames()
        first = next(frames, None)
        if first is None:
            raise VideoError(f"{self.decoded.info.get('path', '?')}: no frames to write")
        out = av.open(str(self.tmp), "w", format=self.fmt)
        try:
            self._write(av, out, first, frames)
        finally:
            out.close()

    def _write(self, av, out, first: Frame, frames: Iterator[Frame]) -> None:
        enc, info = self.enc, self.decoded.info
        deep = first.image.dtype == np.uint16
        h, w = first.image.shape[:2]
        codec = enc.codec or ("ffv1" if self.fmt == "matroska" else "h264")
        fps = self.decoded.fps or Fraction(24)
        time_base = first.time_base or info.get("time_base") or 1 / fps
        if codec == "h264":
            h, w = h - h % 2, w - w % 2  # 4:2:0 needs even sizes: drop the odd last row/column
            stream = out.add_stream("libx264", rate=fps, options={"crf": str(enc.crf), "preset": enc.preset})
            stream.pix_fmt = "yuv420p"
        elif codec == "ffv1":
            stream = out.add_stream(
                "ffv1", rate=fps, options={"level": "3", "slicecrc": "1", "g": "1", "slices": "4"}
            )
            stream.pix_fmt = "gbrp16le" if deep else "bgr0"
        else:
            stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = w, h
        stream.time_base = stream.codec_context.time_base = Fraction(time_base)
        if enc.threads:
            stream.codec_context.thread_count = enc.threads
        sar = info.get("sar")
        if sar and sar != 1:
            stream.codec_context.sample_aspect_ratio = Fraction(sar)
        # keep the source's YUV matrix and range (decoding used them), and say so in the stream
        colorspace, color_range, primaries, trc = first.info.get("color") or (2, 0, 2, 2)
        if codec == "h264":
            cc = stream.codec_context
            cc.colorspace, cc.color_range, cc.color_primaries, cc.color_trc = (
                colorspace,
                color_range,
                primaries,
                trc,
            )
        rotation = first.info.get("rotation") or 0
        if rotation:
            stream.set_display_rotation(rotation)
        text = provenance_text(info, self.context)
        out.metadata.update({"comment": text, "description": text, "encoder_note": "colorarchive"})
        if self.fmt in ("mp4", "mov"):
            out.options.update(exact_mov_timing(stream.time_base))
            if enc.faststart:
                out.options.update({"movflags": "+faststart"})
        dropped: list[str] = []
        copier = (
            StreamCopier(Path(info["path"]), out, dropped)
            if enc.audio and info.get("kind") == "video" and not info.get("window")  # a part: `join` adds it
            else None
        )
        fmt = "rgb48le" if deep else "rgb24"
        count = 0

        def mux(packets) -> None:
            for packet in packets:
                if copier is not None and packet.dts is not None:
                    copier.mux_until(out, float(packet.dts * packet.time_base))
                out.mux(packet)

        try:
            for frame in _chain(first, frames):
                image = frame.image
                if image.shape[0] != h or image.shape[1] != w:
                    if image.shape[0] < h or image.shape[1] < w:
                        raise VideoError(
                            f"{info.get('path', '?')}: frame {frame.index} is {image.shape[1]}x"
                            f"{image.shape[0]} but the film started at {w}x{h}; size changes are not supported"
                        )
                    image = image[:h, :w]
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=fmt)
                if codec == "h264":
                    vf.colorspace, vf.color_range = colorspace, color_range
                vf.pts = frame.pts if frame.pts is not None else count
                vf.time_base = stream.codec_context.time_base
                if frame.info.get("duration"):
                    vf.duration = frame.info["duration"]
                mux(stream.encode(vf))
                count += 1
            mux(stream.encode(None))
            if copier is not None:
                copier.mux_until(out, None)
        finally:
            if copier is not None:
                copier.close()
        self.written = {
            "frames": count,
            "codec": codec,
            "width": w,
            "height": h,
            "dropped_streams": dropped,
            "provenance": text,
        }


def _chain(first: Frame, rest: Iterable[Frame]) -> Iterator[Frame]:
    yield first
    yield from rest


class FilmWriter:
    """Write frames to MP4/MOV (H.264, `crf` quality) or MKV (FFV1 lossless), copying the source's audio.

    Frames marked `info["warmup"]` (segment overlap) are left out.
    """

    def __init__(
        self,
        codec: str | None = None,
        crf: int = 18,
        quality: int | None = None,
        preset: str = "medium",
        audio: bool = True,
        faststart: bool = True,
        queue: int = 8,
        threads: int = 0,
        format: str | None = None,
    ):
        self.codec, self.crf, self.preset = codec, int(quality if quality is not None else crf), preset
        self.audio, self.faststart, self.depth, self.threads = audio, faststart, queue, threads

    def __call__(
        self, frames: Iterable[Frame], dst: str | os.PathLike, decoded: Decoded, context: dict | None = None
    ) -> dict:
        dst = Path(dst)
        fmt = container_format(dst)
        source = decoded.info.get("path")
        if (
            source and dst.exists() and Path(source).exists() and os.path.samefile(source, dst)
        ):  # hard links too
            raise VideoError(f"{dst}: the output would overwrite the original; choose another name")
        kept = (frame for frame in frames if not frame.info.get("warmup"))
        with atomic_path(dst) as tmp:
            writer = _Writer(self, tmp, fmt, decoded, context or {}, self.depth)
            if self.depth <= 0:  # no writer thread: encode in the caller's thread (for comparisons)
                writer._encode(kept)
            else:
                writer.start()
                try:
                    for frame in kept:
                        writer.put(frame)
                finally:
                    if writer.is_alive():
                        writer.queue.put(_END)
                    writer.join()
                if writer.error is not None:
                    raise writer.error
        return {**writer.written, "dst": str(dst), "path": str(dst)}
