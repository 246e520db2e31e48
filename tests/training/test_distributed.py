"""`torchrun --nproc-per-node 2 -m training.cli fit`: two CPU processes (gloo, DistributedDataParallel) reach the
weights of one process trained on the same global batches, and only the main process writes the run's files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from colorization.checkpoint import load
from colorization.models import UNet, UNetConfig

REPO = Path(__file__).resolve().parents[2]


def _fit(config: Path, out: Path, processes: int) -> subprocess.CompletedProcess:
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={processes}",
    ]
    command = [*(launcher if processes > 1 else [sys.executable]), "-m", "training.cli", "fit", str(config)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [*command, "--set", f"out_dir={out}"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )


def test_two_processes_reach_the_weights_of_one_with_the_same_global_batch(dataset, tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(
        f'name = "ddp"\ndataset = "{dataset}"\nwidth = 4\nloss = "mse"\ncrop = 64\nbatch_size = 4\n'
        "max_steps_per_epoch = 3\nepochs = 2\nworkers = 0\nthreads = 1\nwarmup_steps = 1\nsave_half = false\n"
        "degrade = true\ncoords = true\nseed = 3\n"
    )
    one = _fit(config, tmp_path / "one", 1)
    assert one.returncode == 0, one.stderr[-3000:]
    two = _fit(config, tmp_path / "two", 2)
    assert two.returncode == 0, two.stderr[-3000:]
    assert '"processes": 2' in two.stdout and two.stdout.count('"event": "start"') == 1  # rank 0 reports

    a, b = load(tmp_path / "one" / "ddp" / "last.pt"), load(tmp_path / "two" / "ddp" / "last.pt")
    assert a["step"] == b["step"] >= 2
    torch.manual_seed(
        3
    )  # fit seeds torch before it builds the model: these are the weights both started from
    start = UNet(UNetConfig(width=4, coords=True)).state_dict()
    moved = 0.0
    for key, value in a["state_dict"].items():
        assert torch.allclose(value, b["state_dict"][key], atol=1e-5, rtol=1e-4), key
        moved = max(moved, float((value - start[key]).abs().max()))
    assert moved > 1e-3  # the Adam steps moved the weights: the agreement is not that of untouched models
    assert len(b["history"]) == 2
    assert sorted(p.name for p in (tmp_path / "two" / "ddp").iterdir()) == sorted(
        p.name for p in (tmp_path / "one" / "ddp").iterdir()
    )
