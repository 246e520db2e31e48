"""Photos and films in and out, and what the archive accepts: the one home for media (torch-free).

    from colorization import media
    media.read_image("scan.tif")            # upright (EXIF orientation applied), 8 or 16 bits, with its info
    media.read_rgb8("photo.jpg")            # the same as plain 8-bit RGB (training, previews)
    media.FilmReader()("reel.mp4").frames   # a film (or a folder of numbered frames) as a stream
    media.probe("reel.mp4")                 # size, frames, rate, streams, without decoding
    media.sha256_file(path); media.atomic_write(dst, data); with media.atomic_path(dst) as tmp: ...
    media.policy.kind_of("x.gif")           # "image": accepted types, pixel and size limits live in policy

Stages (`colorization/stages/io.py`, `video.py`), segments, the command line, training, the workers and the
portal's upload check all use this package; it imports PyAV, tifffile and OpenCV inside the functions that
need them, and never torch.
"""

from colorization.media import policy
from colorization.media.containers import VideoError, frame_timestamps, numbered_images, probe
from colorization.media.files import atomic_path, atomic_write, sha256_chunks, sha256_file, sha256_stream
from colorization.media.film_reader import FilmReader
from colorization.media.film_writer import FilmWriter, container_format
from colorization.media.images import (
    ImageError,
    LoadedImage,
    check_header,
    encode_bytes,
    encode_to,
    output_format,
    output_path,
    read_image,
    read_rgb8,
    source_format,
    to8,
)
from colorization.media.policy import RefusedMedia
from colorization.media.previews import poster_index

__all__ = [
    "FilmReader",
    "FilmWriter",
    "ImageError",
    "LoadedImage",
    "RefusedMedia",
    "VideoError",
    "atomic_path",
    "atomic_write",
    "check_header",
    "container_format",
    "encode_bytes",
    "encode_to",
    "frame_timestamps",
    "numbered_images",
    "output_format",
    "output_path",
    "poster_index",
    "policy",
    "probe",
    "read_image",
    "read_rgb8",
    "sha256_chunks",
    "sha256_file",
    "sha256_stream",
    "source_format",
    "to8",
]
