"""A stored file and its row (portal.storage): the file is kept only with its committed row, and what a process
killed while storing left in the media store is removed by the sweeper, never a store still being written."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import IntegrityError

from portal.catalog.models import Item
from portal.jobs.models import Cancelled, ColorizationRequest, ColorModel, Status
from portal.jobs.services import register_model
from portal.storage import store_then_save
from tests.support import ROOT
from tests.support.catalog import stub_item

pytestmark = pytest.mark.django_db


def _stored(media: Path) -> set[str]:
    return {p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file()}


def _fail_after_the_insert(model: ColorModel):
    def save() -> None:
        model.save()  # the row is written ... and rolled back with what follows (a run cancelled meanwhile)
        raise Cancelled("training run 1 is no longer running")

    return save


@pytest.mark.parametrize("failure", ["duplicate name", "a later step of the transaction"])
def test_a_file_is_kept_with_its_row_and_removed_when_the_row_does_not_commit(settings, failure):
    media = Path(settings.MEDIA_ROOT)
    first = ColorModel(name="harbour")
    store_then_save(first, {"checkpoint": (ContentFile(b"weights of the first"), "harbour.pt")})
    first.refresh_from_db()
    with first.checkpoint.open("rb") as f:
        assert f.read() == b"weights of the first"  # a success keeps both: the row, and its file
    before = _stored(media)
    assert first.checkpoint.name in before

    second = ColorModel(name="harbour" if failure == "duplicate name" else "estuary")
    with pytest.raises(IntegrityError if failure == "duplicate name" else Cancelled):
        store_then_save(
            second,
            {"checkpoint": (ContentFile(b"weights of the second"), "harbour.pt")},
            save=None if failure == "duplicate name" else _fail_after_the_insert(second),
        )
    assert _stored(media) == before  # the second file went with its row; the first's file is untouched
    assert list(ColorModel.objects.values_list("name", flat=True)) == ["harbour"]
    assert not second.checkpoint


def test_a_checkpoint_registered_under_a_taken_name_keeps_no_file(settings):
    media = Path(settings.MEDIA_ROOT)
    register_model("harbour", ContentFile(b"first", name="harbour.pt"))
    before = _stored(media)
    with pytest.raises(IntegrityError):
        register_model("harbour", ContentFile(b"second", name="harbour.pt"))
    assert _stored(media) == before and ColorModel.objects.count() == 1


@pytest.mark.parametrize("outcome", ["recorded", "cancelled meanwhile", "refused by the database"])
def test_a_job_result_is_kept_only_with_its_finished_row(settings, tmp_path, outcome):
    media = Path(settings.MEDIA_ROOT)
    item = stub_item("Harbour", Item.Status.PUBLISHED)
    model = ColorModel.objects.create(name="tiny", zoo_name="default")
    running = ColorizationRequest.claim(
        ColorizationRequest.objects.create(item=item, model=model, preset="photo").pk
    )
    result, preview = tmp_path / "harbour-colorized.png", tmp_path / "harbour-colorized-preview.jpg"
    result.write_bytes(b"the colorized photograph")
    preview.write_bytes(b"its preview")
    files = {"result": result, "result_preview": preview}
    before = _stored(media)

    if outcome == "recorded":
        assert running.finish(files, frames=1)
        row = ColorizationRequest.objects.get(pk=running.pk)
        assert row.status == Status.DONE and _stored(media) - before == {
            row.result.name,
            row.result_preview.name,
        }
        with row.result.open("rb") as f:
            assert f.read() == b"the colorized photograph"
        return
    if outcome == "cancelled meanwhile":
        ColorizationRequest.objects.get(pk=running.pk).cancel()
        assert running.finish(files, frames=1) is False
    else:
        with pytest.raises(IntegrityError):  # frames is a positive integer: the row's UPDATE is refused
            running.finish(files, frames=-1)
    assert _stored(media) == before  # neither file outlived the row that did not commit
    row = ColorizationRequest.objects.get(pk=running.pk)
    assert not row.result and not row.result_preview and not running.result and not running.result_preview


# A process storing a film into the media store, killed (SIGKILL, as the out-of-memory killer does) midway.
STORE_AND_HANG = """
import sys, time
from django.core.files import File
from portal.storage import FileSystemStorage

class Slow(File):
    def chunks(self, chunk_size=None):
        yield b"x" * 1000
        print("writing", flush=True)
        time.sleep(600)

FileSystemStorage(location=sys.argv[1]).save(sys.argv[2], Slow(None, name="reel.mp4"))
"""


def _killed_while_storing(media: Path, name: str) -> Path:
    """Run a real store into `media` and kill it while it writes; the half-written file it left."""
    folder = (media / name).parent
    before = set(folder.iterdir()) if folder.exists() else set()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "portal.test_settings"}
    store = subprocess.Popen(
        [sys.executable, "-c", STORE_AND_HANG, str(media), name], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert store.stdout.readline().strip() == "writing"
    finally:
        store.send_signal(signal.SIGKILL)
        store.wait(10)
    (left,) = set(folder.iterdir()) - before
    assert left.name.startswith(".incoming-") and not (media / name).exists()
    return left


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    for p in [path, *path.rglob("*")]:
        os.utime(p, (then, then))


def test_the_sweeper_removes_what_a_killed_store_left_and_keeps_a_store_still_writing(settings):
    media = Path(settings.MEDIA_ROOT)
    settings.INCOMING_MINUTES = 60
    orphan = _killed_while_storing(media, "originals/ab/abcd/reel.mp4")
    _age(orphan, 2 * 3600)
    # as young as the file of a store still writing
    writing = _killed_while_storing(media, "results/3/4/reel-colorized.mp4")
    # colorization.media.tiles' folder, its writer killed
    tiles = media / "iiif/image/.item-7.incoming-k1ll3d"
    (tiles / "item-7/0,0,96,72/96,/0").mkdir(parents=True)
    (tiles / "item-7/0,0,96,72/96,/0/default.jpg").write_bytes(b"tile")
    _age(tiles, 2 * 3600)
    named = media / "models/.incoming-named.pt"  # an odd name, but a row refers to it: not a leftover
    named.parent.mkdir(parents=True, exist_ok=True)
    named.write_bytes(b"weights")
    _age(named, 2 * 3600)
    ColorModel.objects.create(name="odd", checkpoint="models/.incoming-named.pt", info={"parameters": 1})

    out = io.StringIO()
    call_command("sweep", stdout=out)  # the command Celery beat's sweep task runs (services.sweep)
    assert not orphan.exists() and not tiles.exists()
    assert writing.exists() and named.exists()
    assert f"removed half-written originals/ab/abcd/{orphan.name}" in out.getvalue()
    assert "removed half-written iiif/image/.item-7.incoming-k1ll3d" in out.getvalue()

    call_command("sweep", minutes=0, stdout=out)  # "everything waiting at once" still spares a live store
    assert writing.exists()
