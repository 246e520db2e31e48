"""Thumbnails, web previews and film poster frames (cpu queue): storage in and out around
`colorization.media.previews`, which reads the picture (torch-free, imported inside the function)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from django.conf import settings
from django.db.models import F

from workers.files import local_path, scratch, store

log = logging.getLogger("workers")
THUMB_SIDE = 480
PREVIEW_SIDE = 1600


def make_previews(item_id: int) -> None:
    from colorization.media.previews import write_preview
    from portal.catalog.models import Item

    # Count the attempt before decoding: a file that kills its worker (out of memory) comes back with
    # acks_late, and after settings.MAX_ATTEMPTS the item says why instead of going round forever.
    counted = Item.objects.filter(pk=item_id, preview="", media_error="").update(
        preview_attempts=F("preview_attempts") + 1
    )
    item = Item.objects.filter(pk=item_id).first()
    if not counted or item is None:
        return  # gone, or made already (the sweeper may send an item twice)
    if item.preview_attempts > settings.MAX_ATTEMPTS:
        item.media_error = (
            f"Making the previews stopped the worker {item.preview_attempts - 1} times (the file may be too "
            "large or damaged); not tried again."
        )
        item.save(update_fields=["media_error"])
        return
    try:
        with local_path(item.original) as src, scratch() as tmp:
            # The stored file's own name (short enough for any file system, extension kept) rather than its path.
            stored = Path(item.original.name).name
            named = tmp / stored
            os.symlink(src, named)
            preview = tmp / "preview.jpg"
            try:
                info = write_preview(named, preview, PREVIEW_SIDE)
            except ValueError as exc:  # the library names the file by its path: say only its name
                raise ValueError(
                    str(exc).replace(f"{tmp}{os.sep}", "").replace(stored, item.original_name)
                ) from None
            thumb = tmp / "thumb.jpg"
            write_preview(preview, thumb, THUMB_SIDE)
            store(item.preview, f"{Path(stored).stem}-preview.jpg", preview)
            store(item.thumbnail, f"{Path(stored).stem}-thumb.jpg", thumb)
        for key in ("width", "height", "frame_count", "duration", "is_colour"):
            if info.get(key) is not None:
                setattr(item, key, info[key])
        item.media_error = ""
    except ValueError as exc:
        log.warning("previews for item %s: %s", item_id, exc)
        item.media_error = str(exc)
    except (
        Exception
    ) as exc:  # every failure is recorded on the item; the log has the details, the page no paths
        log.exception("previews for item %s failed", item_id)
        item.media_error = f"{item.original_name}: the previews could not be made ({type(exc).__name__})"
    item.save(
        update_fields=[
            "preview", "thumbnail", "width", "height", "frame_count", "duration", "is_colour", "media_error"
        ]
    )  # fmt: skip
