"""What an upload really is: its first bytes must be those of an image or film of the kind its name says, and
its header must open (Pillow for images, PyAV for films) and a film's first frame decode before it is stored
(the signatures and the film checks are colorization.media's: policy.check_signature, containers); a picture's data is decoded
whole only when that is small (DECODE_CHECK_PIXELS). The accepted types and the
pixel limit are colorization.media.policy's; this only checks that the content matches them."""

from __future__ import annotations

import re
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files.base import File

from colorization.media import RefusedMedia, check_header, policy, probe
from colorization.media.containers import check_complete, check_first_frame, check_frame_gaps


def _head(upload: File, n: int = 64) -> bytes:
    upload.seek(0)
    head = upload.read(n)
    upload.seek(0)
    return head


def check_content(upload: File, name: str, kind: str) -> None:
    """RefusedMedia saying why, unless `upload` is a readable image or film of the kind its name says."""
    policy.check_signature(_head(upload), name, kind)
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
    with _on_disk(upload) as path:
        try:
            info = probe(path)  # a video stream (not only audio), its size within the pixel limit
            check_complete(path)  # the last packets are where the header says the film ends
            check_frame_gaps(path)  # no frame stays on screen for hours (damaged or broken timestamps)
            check_first_frame(path)  # the header can open over data that cannot be decoded
        except RefusedMedia as exc:
            raise RefusedMedia(f"{name}: refused: {_plain(str(exc), path)}") from None
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
