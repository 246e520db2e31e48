"""The source's audio and subtitle streams, copied into a written film untouched (no decoding)."""

from __future__ import annotations

from pathlib import Path

from colorization.media.containers import open_input


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
