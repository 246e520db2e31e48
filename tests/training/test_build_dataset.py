"""`colorize-train build` on a generated film and image folder: filters, shards, manifest, splits, increments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support import SHARED_DATA
from tests.support.training_data import SPLITS, colour_image
from training.build_dataset import BuildError, build, read_index, sha256_file
from training.data import FrameDataset


def test_build_writes_shards_manifest_and_grouped_splits(dataset, media):
    manifest = json.loads((dataset / "manifest.json").read_text())
    sources = {Path(s["path"]).name: s for s in manifest["sources"]}
    film = sources["film.mp4"]
    assert film["sha256"] == sha256_file(media["film"])
    assert film["counts"]["scenes"] == 3  # colour, black, colour
    assert film["counts"]["dark"] >= 1  # the black scene
    assert film["counts"]["duplicates"] >= 1  # a static shot sampled twice a second
    assert film["counts"]["kept"] >= 2
    assert sum(1 for s in manifest["sources"] if s["kind"] == "image") == 16
    build_info = manifest["builds"][-1]
    assert build_info["person_filter"] == "off" and build_info["detector"] is None
    assert build_info["options"]["dark_threshold"] == 40.0
    assert "centre crop" in manifest["resize"]

    rows = read_index(dataset)
    assert len(rows) == manifest["frames"] == sum(s["frames"] for s in manifest["splits"].values())
    assert all(manifest["splits"][k]["frames"] > 0 for k in ("train", "val", "test"))
    split_of_group: dict[str, str] = {}
    for r in rows:  # a group (film or image) never spans two splits
        assert split_of_group.setdefault(r["group"], r["split"]) == r["split"]

    L = np.load(dataset / "shard_00000_L.npy", mmap_mode="r")
    ab = np.load(dataset / "shard_00000_ab.npy", mmap_mode="r")
    assert L.dtype == np.uint8 and ab.dtype == np.int8
    # the 60-96 px test pictures are enlarged to the training crop's 128 px, not to 224
    assert L.shape[1:] == (128, 128) and ab.shape[1:] == (2, 128, 128)
    assert {s["size"] for s in manifest["shards"]} == {128}
    assert isinstance(L, np.memmap)
    assert float(np.abs(ab).mean()) > 3  # colour frames, not gray


def test_frames_keep_their_own_size_between_128_and_224_px(tmp_path):
    """A 144 px scene photograph is stored at 144 px (not upscaled to 224), a 150 px one cut to 144, a larger one is shrunk to 224 and a
    smaller one enlarged to 128; each size has shards of its own, and whole frames batch by size."""
    folder = tmp_path / "scenes"
    folder.mkdir()
    sides = {"small": 90, "native": 144, "cut": 150, "large": 300}
    for name, side in sides.items():
        for i in range(3):
            Image.fromarray(colour_image(10 * side + i, side, side + 20)).save(folder / f"{name}_{i}.png")
    manifest = build(
        [folder],
        tmp_path / "frames",
        person_filter=False,
        splits=(1.0, 0.0, 0.0),
        shard_size=2,
        dedupe_distance=-1,
    )
    sizes = {}
    for row in read_index(tmp_path / "frames"):
        side = np.load(tmp_path / "frames" / f"{row['shard']}_L.npy", mmap_mode="r").shape[-1]
        sizes.setdefault(side, 0)
        sizes[side] += 1
    assert sizes == {128: 3, 144: 6, 224: 3}
    assert sorted(s["size"] for s in manifest["shards"]) == [128, 128, 144, 144, 144, 224, 224]
    ds = FrameDataset(tmp_path / "frames", "train")
    batches = ds.batches_by_size(2)
    assert sorted(i for b in batches for i in b) == list(range(12))
    assert all(len({ds.sizes[i] for i in b}) == 1 for b in batches)
    crops = FrameDataset(tmp_path / "frames", "train", crop=128)
    assert {tuple(crops[i][0].shape) for i in range(12)} == {(1, 128, 128)}


def test_dataset_returns_normalized_crops(dataset):
    ds = FrameDataset(dataset, "train", crop=64, flip=True, degrade_p=1.0)
    L, ab = ds[0]
    assert L.shape == (1, 64, 64) and ab.shape == (2, 64, 64)
    assert 0.0 <= float(L.min()) and float(L.max()) <= 1.0
    assert float(ab.abs().max()) <= 1.0


def test_rebuild_skips_known_sources_and_appends_new_ones(media, tmp_path):
    out = tmp_path / "frames"
    first = build([media["images"]], out, person_filter=False, splits=SPLITS)
    shards_before = [s["name"] for s in first["shards"]]
    again = build([media["images"]], out, person_filter=False, splits=SPLITS)
    assert again["builds"][-1]["skipped_known_sources"] == 16
    assert again["builds"][-1]["new_sources"] == 0
    assert again["frames"] == first["frames"]

    extra = tmp_path / "more"
    extra.mkdir()
    Image.fromarray(colour_image(999)).save(extra / "new.png")
    # a near-duplicate: an existing picture re-encoded (different bytes, same content)
    Image.open(media["images"] / "img_00.png").save(extra / "img_00_copy.jpg", quality=95)
    grown = build([media["images"], extra], out, person_filter=False, splits=SPLITS)
    assert grown["builds"][-1]["new_sources"] == 2 and grown["builds"][-1]["skipped_known_sources"] == 16
    assert grown["builds"][-1]["counts"]["duplicates"] == 1
    assert grown["frames"] == first["frames"] + 1
    assert [s["name"] for s in grown["shards"]][: len(shards_before)] == shards_before  # old shards untouched


def test_a_build_that_fails_midway_leaves_the_dataset_as_it_was(media, tmp_path):
    out = tmp_path / "frames"
    first = build([media["images"]], out, person_filter=False, splits=SPLITS, shard_size=4)
    files_before = sorted(p.name for p in out.iterdir())
    manifest_before = (out / "manifest.json").read_bytes()

    def cancelled(message: str) -> None:  # e.g. a retraining run cancelled while the film is read
        if "film.mp4" in message:
            raise KeyboardInterrupt

    extra = tmp_path / "more"
    extra.mkdir()
    for i in range(6):  # enough new frames to flush a shard before the film fails
        Image.fromarray(colour_image(500 + i)).save(extra / f"new_{i}.png")
    with pytest.raises(KeyboardInterrupt):
        build(
            [extra, media["film"]],
            out,
            person_filter=False,
            splits=SPLITS,
            shard_size=4,
            on_progress=cancelled,
        )
    assert sorted(p.name for p in out.iterdir()) == files_before  # no orphan shards
    assert (out / "manifest.json").read_bytes() == manifest_before
    again = build([extra], out, person_filter=False, splits=SPLITS, shard_size=4)
    assert again["builds"][-1]["new_sources"] == 6 and again["frames"] == first["frames"] + 6
    assert (
        len(FrameDataset(out, "train")) + len(FrameDataset(out, "val")) + len(FrameDataset(out, "test"))
        == again["frames"]
    )


def test_two_builds_into_one_folder_take_turns(media, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    out = tmp_path / "frames"
    with ThreadPoolExecutor(2) as pool:
        runs = list(
            pool.map(lambda _: build([media["images"]], out, person_filter=False, splits=SPLITS), range(2))
        )
    new = sorted(r["builds"][-1]["new_sources"] for r in runs)
    assert new == [0, 16]  # the second waited for the first and found every source known
    assert len(read_index(out)) == runs[-1]["frames"] == runs[0]["frames"]


def test_a_folder_contributes_its_films_and_images(media, tmp_path):
    import shutil

    from training.build_dataset import expand_sources

    folder = tmp_path / "ingest"
    (folder / "clips").mkdir(parents=True)
    shutil.copy(media["film"], folder / "clips" / "reel.mp4")
    shutil.copy(media["images"] / "img_00.png", folder / "still.png")
    (folder / "notes.txt").write_text("not a source")
    assert [(p.name, kind) for p, kind in expand_sources([folder])] == [
        ("reel.mp4", "film"),
        ("still.png", "image"),
    ]
    (tmp_path / "empty").mkdir()
    with pytest.raises(BuildError, match="holds no images or films"):
        expand_sources([tmp_path / "empty"])


def test_dark_threshold_is_configurable(media, tmp_path):
    m = build(
        [media["film"]], tmp_path / "f", person_filter=False, dark_threshold=0.0, every_s=0.5, splits=SPLITS
    )
    assert m["sources"][0]["counts"].get("dark", 0) == 0


def test_bad_sources_get_a_one_line_reason(media, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a film at all")
    m = build([bad, media["images"]], tmp_path / "f", person_filter=False, splits=SPLITS)
    broken = next(s for s in m["sources"] if s["path"].endswith("broken.mp4"))
    assert "broken.mp4" in broken["error"] and "\n" not in broken["error"]
    with pytest.raises(BuildError, match="no such file"):
        build([tmp_path / "missing.mp4"], tmp_path / "g", person_filter=False)


def test_a_film_over_the_pixel_limit_is_refused_as_inference_refuses_it(media, tmp_path, monkeypatch):
    from colorization.media import policy

    monkeypatch.setattr(policy, "MAX_PIXELS", 5000)  # the film's frames are 96x64, the photographs 80x60
    m = build([media["film"], media["images"]], tmp_path / "f", person_filter=False, splits=SPLITS)
    film = next(s for s in m["sources"] if s["path"].endswith("film.mp4"))
    assert "too large (0 megapixels, 96x64)" in film["error"] and "\n" not in film["error"]
    assert m["frames"] > 0  # the photographs, under the limit, were taken


def test_missing_detector_weights_stop_the_build(media, tmp_path):
    with pytest.raises(BuildError, match="no-person-filter"):
        build([media["film"]], tmp_path / "f", detector=str(tmp_path / "absent.onnx"))
    assert not (tmp_path / "f" / "manifest.json").exists()


def test_person_filter_counts_chaplin_pair():
    weights = SHARED_DATA / "weights" / "yolov5n.onnx"
    photo = SHARED_DATA / "historical_bw" / "bigcolor_chaplin_1.jpg"
    if not (weights.is_file() and photo.is_file()):
        pytest.skip(f"needs {weights} and {photo} (shared data not present)")
    from training.detect import load_detector

    detector = load_detector(weights)
    rgb = np.asarray(Image.open(photo).convert("RGB"))
    assert detector.count_persons(rgb) == 2
    assert detector.count_persons(np.full((200, 300, 3), 128, np.uint8)) == 0


def test_person_filter_drops_frames_without_persons(media, tmp_path):
    weights = SHARED_DATA / "weights" / "yolov5n.onnx"
    if not weights.is_file():
        pytest.skip(f"needs {weights} (shared data not present)")
    m = build([media["film"]], tmp_path / "f", detector=str(weights), every_s=1.0, splits=SPLITS)
    counts = m["sources"][0]["counts"]
    assert counts.get("kept", 0) == 0 and counts["persons"] >= 1  # colour fields hold nobody
    assert m["builds"][-1]["person_filter"] == "films only"
