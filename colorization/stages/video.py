"""The film stages: decode "video" and encode "video", over `colorization.media`'s film reader and writer.

decode "video" opens a film file or a folder of numbered images (`media.FilmReader`); encode "video" writes
H.264 MP4 or FFV1 MKV with the source's audio and a provenance description (`media.FilmWriter`).
"""

from __future__ import annotations

from colorization.media.film_reader import FilmReader
from colorization.media.film_writer import FilmWriter
from colorization.registry import register


@register("decode", "video")
class VideoDecoder(FilmReader):
    """A film or a folder of numbered images -> Decoded (see media.FilmReader for the options)."""


@register("encode", "video")
class VideoEncoder(FilmWriter):
    """Frames -> MP4/MOV (H.264) or MKV (FFV1), the source's audio copied (see media.FilmWriter)."""
