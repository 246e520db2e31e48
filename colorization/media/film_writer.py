"""Films out with PyAV: frames stream out in bounded memory.

`FilmWriter` writes H.264 yuv420p in MP4 (CRF quality) by default, lossless FFV1 in MKV for archival masters.
Timestamps (so variable frame rate), time base, rotation and SAR are kept; audio and subtitle streams of the
source are remuxed untouched (`remux.StreamCopier`), interleaved with the video as it is written. The film's
provenance goes into its container tags and, in MP4/MOV, an XMP packet as a photo's (`mp4_xmp`). A writer thread
encodes while the caller's thread runs the network. The file is written atomically (`files.atomic_path`).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from colorization.frames import Decoded, Frame
from colorization.media.containers import VideoError
from colorization.media.files import atomic_path
from colorization.media.mp4_xmp import append_xmp
from colorization.media.remux import StreamCopier

CONTAINER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}
_END = object()


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


def film_xmp(source: dict[str, Any], context: dict[str, Any]) -> bytes:
    """The XMP packet of a whole film (MP4/MOV): what the provenance of a photo says, and the item's rights."""
    from colorization.provenance import xmp_packet

    return xmp_packet(
        model=str(context.get("model", "unknown")),
        model_version=str(context.get("model_version") or ""),
        source_name=str(source.get("name", "?")),
        source_sha256=str(source.get("sha256", "")),
        extra={k: v for k, v in context.items() if k not in ("model", "model_version", "rights")},
        desaturated=bool(source.get("desaturated")),
        rights=context.get("rights"),
    )


def rights_tags(rights) -> dict[str, str]:
    """Container tags any player shows (MP4 ©nam/©cpy, Matroska TITLE/COPYRIGHT): the title, and the rights
    statement with the credit line. `rights`: provenance.Rights or None."""
    if rights is None:
        return {}
    copyright = "; ".join(p for p in (rights.rights_text(), rights.credit_line) if p)
    return {k: v for k, v in {"title": rights.title, "copyright": copyright}.items() if v}


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
        out.metadata.update(rights_tags(self.context.get("rights")))
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
            if fmt in ("mp4", "mov") and not decoded.info.get("window"):  # a part: `segments.join` adds it
                append_xmp(tmp, film_xmp(decoded.info, context or {}))
        return {**writer.written, "dst": str(dst), "path": str(dst)}
