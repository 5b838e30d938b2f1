"""Disk use of training: only the newest snapshot keeps Adam's moments, also across a killed and resumed run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ncsn.checkpoint import list_checkpoints, load_score_model
from ncsn.data.store import write_dataset
from ncsn.train import train

ITERATIONS, SNAPSHOT_FREQ = 24, 2


def cifar_shaped(out: Path) -> Path:
    """A random data set of the CIFAR-10 shape (32x32 RGB uint8), 64 train images."""
    rng = np.random.default_rng(0)
    arrays = {
        split: (rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), np.zeros(n, dtype=np.int64))
        for split, n in (("train", 64), ("test", 8))
    }
    meta = {"name": "cifar_shaped", "source": "random", "counts": {"train": 64, "test": 8}, "shape": [32, 32, 3]}
    write_dataset(out, arrays, {**meta, "labelled": False, "settings": {}})
    return out / "train.npz"


def settings() -> dict:
    training = {"iterations": ITERATIONS, "batch_size": 8, "snapshot_freq": SNAPSHOT_FREQ, "log_every": 2, "ema": True}
    return {"model": {"arch": "refinenet", "ngf": 4}, "training": training, "device": "cpu", "seed": 0, "flip": True}


@pytest.mark.slow
def test_a_killed_and_resumed_run_keeps_one_optimizer_state_on_disk(tmp_path):
    data = cifar_shaped(tmp_path / "data")
    state, out = tmp_path / "state", tmp_path / "out"
    command = [sys.executable, "-m", "ncsn", "train", "--data", data, "--state-dir", state, "--out-dir", out]
    job = subprocess.Popen(
        [*command, "--settings", json.dumps(settings()), "--threads", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    deadline = time.monotonic() + 120
    while len(list_checkpoints(state)) < 3 and job.poll() is None:
        assert time.monotonic() < deadline, "no snapshots within 120 s"
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    killed_at = list_checkpoints(state)[-1][0]
    assert killed_at < ITERATIONS, "training finished before it could be killed; make it longer"

    log: list[str] = []
    train(data, state, out, settings(), threads=1, log=log.append)
    assert any(line.startswith("resuming from") for line in log), log

    # every checkpoint file on disk (state dir and published hard links), each inode once
    files = {path.stat().st_ino: path for path in [*state.glob("ckpt_*.pt"), *out.glob("checkpoints/ckpt_*.pt")]}
    with_adam = []
    for path in files.values():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        assert saved["model"] and saved["ema"], f"{path} lacks the weights that sampling needs"
        if saved["optimizer"] is not None:
            assert saved["optimizer"]["state"], path
            with_adam.append((saved["iteration"], path.name))
    assert [name for _, name in with_adam] == [f"ckpt_{ITERATIONS}.pt"], with_adam
    assert len(list_checkpoints(out / "checkpoints")) == ITERATIONS // SNAPSHOT_FREQ

    # an older, stripped checkpoint still samples: the EMA network loads and runs
    model, sigmas, info = load_score_model(out / "checkpoints" / f"ckpt_{SNAPSHOT_FREQ}.pt")
    assert info["ema"] and info["iteration"] == SNAPSHOT_FREQ
    with torch.no_grad():
        assert model(torch.rand(2, 3, 32, 32), torch.zeros(2, dtype=torch.long)).shape == (2, 3, 32, 32)
    # and stripping saves disk: a stripped file is smaller than the one with Adam's moments
    sizes = {p.name: p.stat().st_size for p in (out / "checkpoints").iterdir()}
    assert sizes[f"ckpt_{ITERATIONS}.pt"] > 1.5 * sizes[f"ckpt_{SNAPSHOT_FREQ}.pt"]


def test_losing_the_newest_snapshot_resumes_from_an_older_one_with_fresh_adam_moments(tmp_path):
    data = cifar_shaped(tmp_path / "data")
    state, out = tmp_path / "state", tmp_path / "out"
    short = settings()
    short["training"] = {**short["training"], "iterations": 4}
    train(data, state, out, short, threads=1, log=[].append)
    (state / "ckpt_4.pt").write_bytes(b"damaged")  # e.g. a disk that filled up
    log: list[str] = []
    train(
        data,
        state,
        tmp_path / "out2",
        {**short, "training": {**short["training"], "iterations": 6}},
        threads=1,
        log=log.append,
    )
    assert any("resuming from" in line and "ckpt_2.pt" in line for line in log), log
    assert any("keeps no optimiser state" in line and "restart from zero" in line for line in log), log
    final = torch.load(state / "ckpt_6.pt", map_location="cpu", weights_only=True)
    assert final["iteration"] == 6 and final["optimizer"]["state"]
