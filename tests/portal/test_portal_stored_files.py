"""A stored file and its row (portal.storage): the file is kept only with its committed row, and what a process
killed while storing left in the media store is removed (or, a whole file, set aside) by the hourly leftovers pass,
never a store still being written nor a file a row refers to."""

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

from portal.catalog.models import Item, TrashEntry
from portal.jobs.models import Cancelled, ColorizationRequest, ColorModel, Status
from portal.jobs.services import register_model
from portal.storage import store_then_save
from tests.support import ROOT
from tests.support.catalog import add_item, stub_item

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


def test_the_leftovers_pass_removes_tile_folders_a_killed_swap_or_removal_left(settings, tmp_path):
    settings.MEDIA_ROOT = media = tmp_path / "media"
    settings.INCOMING_MINUTES = 60
    tiles = media / "iiif/image"

    def pyramid(name: str) -> Path:
        (tiles / name / "0,0,96,72/96,/0").mkdir(parents=True)
        (tiles / name / "0,0,96,72/96,/0/default.jpg").write_bytes(b"tile")
        (tiles / name / "info.json").write_text("{}")
        return tiles / name

    # colorization.media.tiles moves the older pyramid aside, deepzoom.remove a withdrawn one; killed before the
    # rmtree that follows
    swapped, withdrawn = pyramid(".item-8.old-k1ll3d"), pyramid(".result-9.gone-0a1b2c3d")
    just_withdrawn = pyramid(".item-10.gone-4e5f6a7b")  # its own process is deleting it now
    published = pyramid("item-11")
    for path in (swapped, withdrawn, published):
        _age(path, 2 * 3600)

    out = io.StringIO()
    call_command("sweep", stdout=out)
    assert not swapped.exists() and not withdrawn.exists()
    assert just_withdrawn.exists() and (published / "info.json").exists()
    assert "removed half-written iiif/image/.item-8.old-k1ll3d" in out.getvalue()
    assert "removed half-written iiif/image/.result-9.gone-0a1b2c3d" in out.getvalue()


# A process storing a file through store_then_save, killed (SIGKILL) after the file is whole and before its row
# commits: the `check` step, which reads the stored file back, runs in between.
STORE_THEN_DIE = """
import sys, time
import django
django.setup()
from django.core.files.base import ContentFile
from portal.catalog.models import Item
from portal.jobs.models import ColorModel
from portal.storage import store_then_save

def killed_here():
    print("stored", flush=True)
    time.sleep(600)

if sys.argv[1] == "original":
    item = Item(title="Lost", sha256="ab" * 32, original_name="lost.png")
    store_then_save(item, {"original": (ContentFile(b"an original"), "lost.png")}, check=killed_here)
else:
    store_then_save(ColorModel(name="lost"), {"checkpoint": (ContentFile(b"weights"), "lost.pt")}, check=killed_here)
"""


def _killed_before_its_row(media: Path, kind: str) -> str:
    """Run a real store_then_save and kill it between the stored file and its row; the file's stored name."""
    before = _stored(media)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "portal.test_settings",
           "MEDIA_ROOT": str(media)}  # fmt: skip
    store = subprocess.Popen(
        [sys.executable, "-c", STORE_THEN_DIE, kind], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert store.stdout.readline().strip() == "stored"
    finally:
        store.send_signal(signal.SIGKILL)
        store.wait(10)
    (name,) = _stored(media) - before
    return name


def _write(media: Path, name: str, data: bytes = b"bytes") -> Path:
    (media / name).parent.mkdir(parents=True, exist_ok=True)
    (media / name).write_bytes(data)
    return media / name


def test_the_leftovers_pass_sets_aside_a_whole_file_whose_row_never_committed_and_keeps_every_recorded_one(
    settings, tmp_path
):
    settings.MEDIA_ROOT = media = tmp_path / "media"  # its own: the other tests' files have no rows either
    lost_original = _killed_before_its_row(media, "original")
    lost_checkpoint = _killed_before_its_row(media, "checkpoint")
    assert lost_original == f"originals/ab/{'ab' * 32}/lost.png" and lost_checkpoint.startswith("models/")
    assert not ColorModel.objects.exists()
    trashed = "originals/cd/cdcd/trashed.png"  # its item is in the trash, whose record names it
    TrashEntry.objects.create(
        kind="item", object_id=99, label="Trashed", files=[[trashed, f"trash/1/{trashed}"]]
    )
    recorded = {
        add_item(tmp_path, "Harbour").original.name,  # a row refers to it (and to its previews)
        register_model("estuary", ContentFile(b"weights", name="estuary.pt")).checkpoint.name,
    }
    for name in (
        trashed,
        "trash/4/originals/ef/efef/gone.png",  # trash/: not a folder the file fields store into
        "exports/catalog.csv",
        "originals/ab/.DS_Store",  # hidden: not the storage's
    ):
        _write(media, name)
    kept = _stored(media) - {lost_original, lost_checkpoint}
    assert recorded < kept and len(kept) >= 6

    settings.INCOMING_MINUTES = 60
    call_command("sweep", stdout=io.StringIO())
    assert (media / lost_original).exists() and (media / lost_checkpoint).exists()  # not old enough yet

    settings.INCOMING_MINUTES = 0.05  # 3 s: the files really are this old (their ctime cannot be set back)
    time.sleep(3.5)
    out = io.StringIO()
    call_command("sweep", stdout=out)
    unrecorded = media / "trash/unrecorded"
    assert (unrecorded / lost_original).read_bytes() == b"an original"  # set aside whole, not deleted
    assert (unrecorded / lost_checkpoint).read_bytes() == b"weights"
    assert _stored(media) == kept | {
        f"trash/unrecorded/{lost_original}",
        f"trash/unrecorded/{lost_checkpoint}",
    }
    assert f"set aside {lost_original} (stored, no row refers to it) in trash/unrecorded/" in out.getvalue()

    call_command("sweep", stdout=io.StringIO())  # within COLORARCHIVE_TRASH_DAYS nothing more happens
    assert (unrecorded / lost_original).exists()
    settings.TRASH_DAYS = 0
    out = io.StringIO()
    call_command("sweep", stdout=out)
    assert _stored(media) == kept
    assert f"removed {lost_original}, set aside 0 days ago" in out.getvalue()


def test_the_leftovers_pass_sets_nothing_aside_when_no_row_refers_to_any_stored_file(
    settings, tmp_path, caplog
):
    settings.MEDIA_ROOT = media = (
        tmp_path / "media"
    )  # with a database that is not this store's (an empty one)
    settings.INCOMING_MINUTES = 0.02
    names = {
        _write(media, f"originals/{n:02x}/{n:02x}{n:02x}/photo.png").relative_to(media).as_posix()
        for n in range(3)
    }
    time.sleep(2)
    call_command("sweep", stdout=io.StringIO())
    assert _stored(media) == names
    assert "3 of 3 stored file(s) have no row" in caplog.text
