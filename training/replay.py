"""Replay: the new material mixed with a sample of the data a model was trained on, so fine-tuning does not forget.

`mix(new, replay, out)` writes a frame dataset (the format of `training.build_dataset`) holding every frame of
`new` and, per split, a sample of `replay`'s frames of that split: as many as the new data has, at least
`min_frames` and at most `max_frames` where the old dataset has them. Splits stay as they were (no frame moves
from one split to another), so the mix's test split is the new data's held-out frames plus the replay's: the one
set on which a fine-tuned model and the model it started from are both scored.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from colorization import media
from training.build_dataset import (
    SIZE,
    BuildError,
    ShardWriter,
    _new_manifest,
    _write_index,
    load_manifest,
    read_index,
)

SPLITS = ("train", "val", "test")
MIN_FRAMES = 50  # replay frames per split at least (where the old dataset has them)
MAX_FRAMES = 5000  # and at most


def replay_counts(new_splits: dict[str, int], available: dict[str, int], min_frames: int, max_frames: int):
    """How many replay frames each split takes."""
    return {
        s: min(available.get(s, 0), max(min_frames, min(max_frames, new_splits.get(s, 0)))) for s in SPLITS
    }


def mix(
    new: str | Path,
    replay: str | Path | None,
    out: str | Path,
    min_frames: int = MIN_FRAMES,
    max_frames: int = MAX_FRAMES,
    seed: int = 0,
    on_progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write the mixed dataset to `out` (replaced when it exists) and return its manifest; its "mix" entry says
    how many frames of each split came from where. `replay` None: the new frames alone."""
    new, out = Path(new), Path(out)
    say = on_progress or (lambda message: None)
    new_manifest = load_manifest(new)
    if new_manifest is None:
        raise BuildError(f"{new}: no manifest.json (build the dataset first)")
    parts = [("new", new, new_manifest, read_index(new))]
    if replay is not None:
        replay = Path(replay)
        replay_manifest = load_manifest(replay)
        if replay_manifest is None:
            raise BuildError(f"{replay}: no manifest.json, so it is not a frame dataset to replay")
        rows = read_index(replay)
        new_counts = {s: sum(r["split"] == s for r in parts[0][3]) for s in SPLITS}
        available = {s: sum(r["split"] == s for r in rows) for s in SPLITS}
        counts = replay_counts(new_counts, available, min_frames, max_frames)
        rng = np.random.default_rng(seed)
        chosen = []
        for s in SPLITS:
            of_split = [r for r in rows if r["split"] == s]
            picks = rng.choice(len(of_split), counts[s], replace=False) if counts[s] else []
            chosen += [of_split[i] for i in sorted(picks)]
        parts.append(("replay", replay, replay_manifest, chosen))

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    writer = ShardWriter(out, first_shard=0, shard_size=512)
    frames = {name: dict.fromkeys(SPLITS, 0) for name, *_ in parts}
    for name, root, _, rows in parts:
        say(f"mixing {len(rows)} {name} frames from {root}")
        maps: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for r in rows:
            if r["shard"] not in maps:
                maps[r["shard"]] = tuple(
                    np.load(root / f"{r['shard']}_{p}.npy", mmap_mode="r") for p in ("L", "ab")
                )
            L, ab = maps[r["shard"]]
            row = {k: r[k] for k in ("split", "source", "time_s", "phash")}
            writer.add(
                np.array(L[int(r["row"])]),
                np.array(ab[int(r["row"])]),
                {**row, "group": f"{name}/{r['group']}"},
            )
            frames[name][r["split"]] += 1
    writer.flush()

    manifest = _new_manifest()
    index = []
    for shard in writer.written:
        index.extend(shard.pop("rows"))
        manifest["shards"].append(shard)
    shas = set()
    for _, _, source_manifest, _ in parts:  # every source, so each frame's folder is known (source_weights)
        for s in source_manifest.get("sources", []):
            if s["sha256"] not in shas:
                shas.add(s["sha256"])
                manifest["sources"].append(s)
    manifest.update(
        size=SIZE,
        updated=datetime.now(UTC).isoformat(timespec="seconds"),
        frames=len(index),
        splits={s: {"frames": sum(f[s] for f in frames.values())} for s in SPLITS},
        mix={name: {"from": str(root), "frames": frames[name]} for name, root, *_ in parts},
    )
    _write_index(out, index)
    media.atomic_write(out / "manifest.json", json.dumps(manifest, indent=1).encode())
    return manifest
