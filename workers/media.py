"""Thumbnails, web previews and film poster frames (cpu queue): storage in and out around
`colorization.media.previews`, which reads the picture (torch-free, imported inside the function)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from workers.files import local_path, scratch, store

log = logging.getLogger("workers")
THUMB_SIDE = 480
PREVIEW_SIDE = 1600


def make_previews(item_id: int) -> None:
    from colorization.media.previews import write_preview
    from portal.catalog.models import Item

    item = Item.objects.filter(pk=item_id).first()
    if item is None:
        return
    try:
        with local_path(item.original) as src, scratch() as tmp:
            # Keep the original's name for error messages rather than the storage's hashed path.
            named = tmp / item.original_name
            os.symlink(src, named)
            preview = tmp / "preview.jpg"
            try:
                info = write_preview(named, preview, PREVIEW_SIDE)
            except ValueError as exc:  # the library names the file by its path: say only its name
                raise ValueError(str(exc).replace(f"{tmp}{os.sep}", "")) from None
            thumb = tmp / "thumb.jpg"
            write_preview(preview, thumb, THUMB_SIDE)
            store(item.preview, f"{Path(item.original_name).stem}-preview.jpg", preview)
            store(item.thumbnail, f"{Path(item.original_name).stem}-thumb.jpg", thumb)
        for key in ("width", "height", "frame_count", "duration", "is_colour"):
            if info.get(key) is not None:
                setattr(item, key, info[key])
        item.media_error = ""
    except ValueError as exc:
        log.warning("previews for item %s: %s", item_id, exc)
        item.media_error = str(exc)
    item.save(
        update_fields=[
            "preview", "thumbnail", "width", "height", "frame_count", "duration", "is_colour", "media_error"
        ]
    )  # fmt: skip
