"""What an upload really is: its first bytes must be those of an image or film of the kind its name says, and
its header must open (Pillow for images, PyAV for films) before it is stored; a picture's data is decoded
whole only when that is small (DECODE_CHECK_PIXELS). The accepted types and the
pixel limit are colorization.media.policy's; this only checks that the content matches them."""

from __future__ import annotations

import re
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path, PurePath

from django.conf import settings
from django.core.files.base import File

from colorization.media import RefusedMedia, check_header, probe
from colorization.media.containers import av_message, check_complete, check_frame_gaps

# Leading bytes of the formats policy accepts, by suffix (offset, bytes); any one of them will do.
IMAGE_MAGIC = {
    ".jpg": [(0, b"\xff\xd8\xff")], ".jpeg": [(0, b"\xff\xd8\xff")],
    ".png": [(0, b"\x89PNG\r\n\x1a\n")],
    ".tif": [(0, b"II*\x00"), (0, b"MM\x00*"), (0, b"II+\x00"), (0, b"MM\x00+")],
    ".bmp": [(0, b"BM")], ".gif": [(0, b"GIF87a"), (0, b"GIF89a")], ".webp": [(8, b"WEBP")],
}  # fmt: skip
IMAGE_MAGIC[".tiff"] = IMAGE_MAGIC[".tif"]
ISO_BOXES = [(4, b"ftyp"), (4, b"moov"), (4, b"mdat"), (4, b"wide"), (4, b"free"), (4, b"skip")]
FILM_MAGIC = {
    ".mp4": ISO_BOXES, ".m4v": ISO_BOXES, ".mov": ISO_BOXES,
    ".mkv": [(0, b"\x1a\x45\xdf\xa3")], ".webm": [(0, b"\x1a\x45\xdf\xa3")],
    ".avi": [(8, b"AVI ")], ".ogv": [(0, b"OggS")], ".wmv": [(0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11")],
    ".mpg": [(0, b"\x00\x00\x01\xba"), (0, b"\x00\x00\x01\xb3"), (0, b"\x47")],
    ".mpeg": [(0, b"\x00\x00\x01\xba"), (0, b"\x00\x00\x01\xb3"), (0, b"\x47")],
}  # fmt: skip


def _head(upload: File, n: int = 64) -> bytes:
    upload.seek(0)
    head = upload.read(n)
    upload.seek(0)
    return head


def _matches(head: bytes, signatures: list[tuple[int, bytes]]) -> bool:
    return any(head[offset : offset + len(magic)] == magic for offset, magic in signatures)


def check_content(upload: File, name: str, kind: str) -> None:
    """RefusedMedia saying why, unless `upload` is a readable image or film of the kind its name says."""
    suffix = PurePath(name).suffix.lower()
    head = _head(upload)
    signatures = (IMAGE_MAGIC if kind == "image" else FILM_MAGIC).get(suffix, [])
    if signatures and not _matches(head, signatures):
        what = "a picture" if kind == "image" else "a film"
        raise RefusedMedia(f"{name}: refused: the content is not {what} in the {suffix} format its name says")
    if kind == "image":
        _check_image(upload, name)
    else:
        _check_film(upload, name)


# The upload check decodes a picture whole only up to this size (Pillow holds up to 4 bytes a pixel: 160 MB);
# a larger one is checked from its header (size, type), a JPEG decoded at 1/8 and a PNG's chunk checksums, so
# the web process never holds a huge picture. Damage the header cannot show surfaces when the preview worker
# reads it (the item's media_error).
DECODE_CHECK_PIXELS = 40_000_000


def _check_image(upload: File, name: str) -> None:
    from PIL import Image

    if check_header(upload, name) is None:  # also the pixel limit, from the header
        raise RefusedMedia(f"{name}: refused: Pillow cannot read it as a picture")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(upload) as im:
                if im.format == "JPEG":  # reads every byte, decodes at 1/8 size: truncation shows, cheaply
                    im.draft("L", (max(1, im.width // 8), max(1, im.height // 8)))
                    im.load()
                elif im.width * im.height <= DECODE_CHECK_PIXELS:
                    im.load()
                elif im.format == "PNG":  # every chunk's checksum, to the end: a cut or damaged file shows
                    im.verify()
    except (OSError, SyntaxError, ValueError) as exc:
        reason = _FOLDERS.sub("", _QUOTED_PATH.sub("", str(exc))).strip()
        raise RefusedMedia(f"{name}: refused: the picture data is damaged or cut short ({reason})") from None
    finally:
        upload.seek(0)


@contextmanager
def _on_disk(upload: File):
    """A path to the upload's bytes: its spooled temp file, or a copy in the upload temp folder."""
    path = getattr(upload, "temporary_file_path", None)
    if path is not None:
        yield Path(path())
        return
    with tempfile.NamedTemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR, suffix=".sniff") as tmp:
        for chunk in upload.chunks():
            tmp.write(chunk)
        tmp.flush()
        upload.seek(0)
        yield Path(tmp.name)


def _check_film(upload: File, name: str) -> None:
    import av

    with _on_disk(upload) as path:
        try:
            info = probe(path)  # a video stream (not only audio), its size within the pixel limit
            check_complete(path)  # the last packets are where the header says the film ends
            check_frame_gaps(path)  # no frame stays on screen for hours (damaged or broken timestamps)
        except RefusedMedia as exc:
            raise RefusedMedia(f"{name}: refused: {_plain(str(exc), path)}") from None
        try:
            with av.open(str(path), metadata_errors="ignore") as container:
                stream = next(s for s in container.streams.video if not (s.disposition & 1024))
                if next(container.decode(stream), None) is None:
                    raise RefusedMedia(f"{name}: refused: no frame of its video could be decoded")
        except av.FFmpegError as exc:
            reason = _plain(av_message(exc), path)
            raise RefusedMedia(f"{name}: refused: its first frame cannot be decoded ({reason})") from None
    if not info.get("width"):
        raise RefusedMedia(f"{name}: refused: the video stream has no picture size")


# An absolute path's folders, a quoted absolute path (PyAV appends the file name it opened to its errors), an
# errno code ("[Errno 1094995529] Invalid data found ...": the words say it).
_QUOTED_PATH = re.compile(r"""\s*:?\s*['"]/[^'"]*['"]|\[Errno -?\d+\]\s*""")
_FOLDERS = re.compile(r"(?<![\w:/.~])/(?:[^\s/'\"]+/)+")


def _plain(reason: str, path: Path) -> str:
    """`reason` without the server's paths (where the upload was spooled is no business of the person), and
    without the leading name of the file the library opened: the message names the upload itself."""
    if reason.startswith(f"{path}: "):
        reason = reason[len(f"{path}: ") :]
    reason = reason.replace(str(path), "the file")
    return _FOLDERS.sub("", _QUOTED_PATH.sub("", reason)).strip() or "the file cannot be read"
