"""Catalogue rows for portal tests: items and results with real files or with stand-in bytes, spreadsheets and
sitemaps as the portal reads and writes them."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from pathlib import Path

from django.core.files import File
from django.core.files.base import ContentFile

from portal.catalog.models import Item
from portal.jobs.models import ColorizationRequest, ColorModel, Status
from tests.support.media import make_film, make_photo

SITEMAP_NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def add_item(
    tmp_path: Path, title: str, status: str = Item.Status.PUBLISHED, film: bool = False, **fields
) -> Item:
    """An item whose original is a real photograph (or film) file, with the sizes its worker would record."""
    path = make_film(tmp_path / f"{title}.mp4") if film else make_photo(tmp_path / f"{title}.png")
    item = Item(title=title, status=status, sha256=title.encode().hex().ljust(64, "0")[:64],
                original_name=path.name, width=64 if film else 96, height=48 if film else 72,
                type=Item.Type.MOVING_IMAGE if film else Item.Type.STILL_IMAGE, **fields)  # fmt: skip
    if film:
        item.duration, item.frame_count = 2.0, 20
    with open(path, "rb") as f:
        item.original.save(path.name, File(f), save=False)
    item.save()
    return item


def add_record(title: str, status: str = Item.Status.PUBLISHED, **fields) -> Item:
    """An item whose original is named but never written: for search and listing tests that do not open it."""
    item = Item(title=title, status=status, sha256=title.encode().hex().ljust(64, "0")[:64],
                original_name="a.png", **fields)  # fmt: skip
    item.original.name = "originals/a.png"
    item.save()
    return item


def add_result(tmp_path: Path, item: Item, model: ColorModel, approved: bool, status=Status.DONE):
    req = ColorizationRequest.objects.create(
        item=item, model=model, preset="film" if item.is_film else "photo", status=status, approved=approved
    )
    path = (
        make_film(tmp_path / f"result-{req.pk}.mp4")
        if item.is_film
        else make_photo(tmp_path / f"result-{req.pk}.png", gray=False)
    )
    with open(path, "rb") as f:
        req.result.save(path.name, File(f), save=True)
    return req


def stub_item(title: str, status: str, collection=None, **fields) -> Item:
    """An item whose original and preview are a few stand-in bytes (for tests that never decode them)."""
    item = Item(title=title, status=status, sha256=title.encode().hex().ljust(64, "0")[:64], original_name=f"{title}.png",
                collection=collection, **fields)  # fmt: skip
    item.original.save(f"{title}.png", ContentFile(b"original-bytes-" + title.encode()), save=False)
    item.preview.save("p.jpg", ContentFile(b"preview"), save=False)
    item.save()
    return item


def stub_result(item: Item, model: ColorModel, approved: bool) -> ColorizationRequest:
    """A finished photo request whose result is a few stand-in bytes."""
    req = ColorizationRequest.objects.create(
        item=item, model=model, preset="photo", status=Status.DONE, approved=approved
    )
    req.result.save("r.jpg", ContentFile(b"result-" + str(req.pk).encode()), save=True)
    return req


def excel_csv(rows: list[list[str]], delimiter: str = ";", encoding: str = "cp1252") -> bytes:
    """A CSV as a spreadsheet saves it in much of Europe: semicolons, CRLF, Windows-1252."""
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter).writerows(rows)
    return text.getvalue().encode(encoding)


def sitemap_locs(client, url: str) -> list[str]:
    """The addresses a sitemap (or sitemap index) at `url` lists."""
    response = client.get(url)
    assert response.status_code == 200, url
    assert response["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    return [loc.text for loc in root.findall(".//sm:loc", SITEMAP_NS)]


def add_hint_film(path: Path, user, title: str = "Street") -> Item:
    """A 24-frame 128x96 film (a moving square, keyframes every 6 frames) ingested as staff upload it."""
    from portal.catalog.ingest import add_item as ingest

    film = make_film(path, frames=24, size=(128, 96), fps=12, gop=6)
    with open(film, "rb") as f:
        return ingest(File(f, name=film.name), user=user, title=title)
