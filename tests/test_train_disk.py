"""Disk use of training: only the two newest snapshots keep Adam's moments, also across a killed and resumed run,
and losing the newest still resumes bit for bit."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import train

from ncsn.checkpoint import list_checkpoints, load_score_model
from ncsn.data.store import write_dataset
from ncsn.errors import NcsnError

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
def test_a_killed_and_resumed_run_keeps_two_optimizer_states_on_disk(tmp_path):
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
    assert sorted(with_adam) == [
        (ITERATIONS - SNAPSHOT_FREQ, f"ckpt_{ITERATIONS - SNAPSHOT_FREQ}.pt"),
        (ITERATIONS, f"ckpt_{ITERATIONS}.pt"),
    ], with_adam
    assert len(list_checkpoints(out / "checkpoints")) == ITERATIONS // SNAPSHOT_FREQ

    # an older, stripped checkpoint still samples: the EMA network loads and runs
    model, sigmas, info = load_score_model(out / "checkpoints" / f"ckpt_{SNAPSHOT_FREQ}.pt")
    assert info["ema"] and info["iteration"] == SNAPSHOT_FREQ
    with torch.no_grad():
        assert model(torch.rand(2, 3, 32, 32), torch.zeros(2, dtype=torch.long)).shape == (2, 3, 32, 32)
    # and stripping saves disk: a stripped file is smaller than the one with Adam's moments
    sizes = {p.name: p.stat().st_size for p in (out / "checkpoints").iterdir()}
    assert sizes[f"ckpt_{ITERATIONS}.pt"] > 1.5 * sizes[f"ckpt_{SNAPSHOT_FREQ}.pt"]


def test_losing_the_newest_snapshot_still_resumes_bit_for_bit(tmp_path):
    """A node dying mid-write truncates the newest snapshot: the spare before it keeps Adam's moments, so the
    resumed run ends with the weights, moments and losses of an uninterrupted one."""
    data = cifar_shaped(tmp_path / "data")
    short = settings()
    six = {**short, "training": {**short["training"], "iterations": 6}}
    train(data, tmp_path / "straight", tmp_path / "straight_out", six, threads=1, log=[].append)
    state = tmp_path / "state"
    train(
        data,
        state,
        tmp_path / "out",
        {**short, "training": {**short["training"], "iterations": 4}},
        threads=1,
        log=[].append,
    )
    newest = state / "ckpt_4.pt"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 3])  # truncated
    log: list[str] = []
    train(data, state, tmp_path / "out2", six, threads=1, log=log.append)
    assert any("resuming from" in line and "ckpt_2.pt" in line for line in log), log
    assert not any("restart from zero" in line for line in log), log
    ours = torch.load(state / "ckpt_6.pt", map_location="cpu", weights_only=True)
    theirs = torch.load(tmp_path / "straight" / "ckpt_6.pt", map_location="cpu", weights_only=True)
    for key in ("model", "ema", "optimizer"):
        assert _equal(ours[key], theirs[key]), key
    # the losses (NaN where a window drew no example of a level, so compared as text), not the it/s column
    assert str([row[:-1] for row in ours["loss_log"]]) == str([row[:-1] for row in theirs["loss_log"]])


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


def test_losing_both_spare_snapshots_resumes_with_fresh_adam_moments_and_says_so(tmp_path):
    data = cifar_shaped(tmp_path / "data")
    state, out = tmp_path / "state", tmp_path / "out"
    short = settings()
    short["training"] = {**short["training"], "iterations": 6}
    train(data, state, out, short, threads=1, log=[].append)
    for name in ("ckpt_6.pt", "ckpt_4.pt"):
        (state / name).write_bytes(b"damaged")  # e.g. a disk that filled up
    log: list[str] = []
    train(
        data,
        state,
        tmp_path / "out2",
        {**short, "training": {**short["training"], "iterations": 8}},
        threads=1,
        log=log.append,
    )
    assert any("resuming from" in line and "ckpt_2.pt" in line for line in log), log
    assert any("keeps no optimiser state" in line and "restart from zero" in line for line in log), log
    final = torch.load(state / "ckpt_8.pt", map_location="cpu", weights_only=True)
    assert final["iteration"] == 8 and final["optimizer"]["state"]


@pytest.fixture
def small_file_system(tmp_path):
    """A 4 MiB tmpfs mounted for the test (root only), unmounted after."""
    mount_point = tmp_path / "small_fs"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"this machine refuses a tmpfs mount ({made.stderr.decode().strip()})")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def test_a_full_disk_names_the_folder_the_free_space_and_the_snapshot_size(tmp_path, small_file_system):
    data = cifar_shaped(tmp_path / "data")
    state = small_file_system / "state"
    short = settings()
    two, four = ({**short, "training": {**short["training"], "iterations": n}} for n in (2, 4))
    train(data, state, tmp_path / "out", two, threads=1, log=[].append)
    good = (state / "ckpt_2.pt").read_bytes()
    filler = small_file_system / "filler"
    with open(filler, "wb") as handle:  # leave a tenth of a snapshot free
        handle.write(b"\0" * (shutil.disk_usage(small_file_system).free - len(good) // 10))
    with pytest.raises(NcsnError) as err:
        train(data, state, tmp_path / "out", four, threads=1, log=[].append)
    message = str(err.value)
    assert f"no space left to write ckpt_4.pt in {state}" in message and "free there" in message, message
    assert "needs about" in message and "run the same command again" in message
    assert (state / "ckpt_2.pt").read_bytes() == good  # the newest good snapshot is intact
    assert sorted(p.name for p in state.iterdir()) == [".lock", "ckpt_2.pt"]  # no temporary file left
    filler.unlink()
    log: list[str] = []
    train(data, state, tmp_path / "out", four, threads=1, log=log.append)
    assert any("resuming from" in line and "ckpt_2.pt" in line for line in log), log


@pytest.mark.slow
def test_a_second_trainer_on_the_same_state_folder_stops_naming_the_first(tmp_path):
    """A resubmitted job while the first still trains: the second refuses at once and writes nothing."""
    data = cifar_shaped(tmp_path / "data")
    state = tmp_path / "state"
    long = {**settings(), "training": {**settings()["training"], "iterations": 10_000, "snapshot_freq": 10_000}}
    command = [
        sys.executable,
        "-m",
        "ncsn",
        "train",
        "--data",
        data,
        "--state-dir",
        state,
        "--out-dir",
        tmp_path / "out",
    ]
    first = subprocess.Popen(
        [*command, "--settings", json.dumps(long), "--threads", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "out" / "loss.csv").is_file():  # written once the first holds the lock
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        second = subprocess.run(
            [*command, "--settings", json.dumps(long), "--threads", "1"], capture_output=True, text=True, timeout=120
        )
        assert second.returncode == 2, second.stderr
        assert f"another training holds the state folder {state} (pid {first.pid} on" in second.stderr
        assert first.poll() is None  # the first trains on
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
    assert first.returncode == 75 and list_checkpoints(state)  # it stopped cleanly with a resume point
