"""The signals a cluster sends before it kills a job: ``ncsn train`` snapshots where it is and exits 75.

Slurm sends SIGTERM at ``scancel`` and pre-emption (SIGKILL follows after KillWait or GraceTime),
and SIGUSR1 where a site asks for an early warning (``--signal=USR1@SECONDS``). A real process
gets a real signal here; the rerun resumes from the snapshot it left and ends bit for bit where an
uninterrupted run ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import train

from ncsn.checkpoint import list_checkpoints
from ncsn.slurm import EXIT_RESUME

ITERATIONS, LOG_EVERY = 48, 4
SETTINGS = {
    "model": {"arch": "refinenet", "ngf": 8},
    "training": {"iterations": ITERATIONS, "batch_size": 16, "snapshot_freq": ITERATIONS, "log_every": LOG_EVERY},
    "device": "cpu",
    "seed": 1,
}


def logged_iterations(loss_csv: Path) -> list[int]:
    if not loss_csv.is_file():
        return []
    return [int(line.split(",")[0]) for line in loss_csv.read_text().splitlines()[1:] if line]


def signalled_training(data: Path, root: Path, signum: int) -> tuple[int, int, str, float]:
    """Start ``ncsn train``, send ``signum`` once it has logged a few rows; (exit status, last logged
    iteration when signalled, stderr, seconds from the signal to the exit)."""
    command = [sys.executable, "-m", "ncsn", "train", "--data", str(data), "--state-dir", str(root / "state")]
    command += ["--out-dir", str(root / "out"), "--settings", json.dumps(SETTINGS), "--threads", "1"]
    job = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, OMP_NUM_THREADS="1")
    )
    deadline = time.monotonic() + 120
    while len(logged_iterations(root / "out" / "loss.csv")) < 2:
        assert job.poll() is None, job.communicate()
        assert time.monotonic() < deadline, "training logged nothing within 120 s"
        time.sleep(0.02)
    logged = logged_iterations(root / "out" / "loss.csv")[-1]
    sent = time.monotonic()
    job.send_signal(signum)
    _, stderr = job.communicate(timeout=60)
    return job.returncode, logged, stderr, time.monotonic() - sent


def test_sigusr1_snapshots_and_exits_with_the_resume_status(digits, tmp_path):
    """Sites that warn ahead (sbatch --signal=USR1@SECONDS) get the same stop as SIGTERM."""
    status, logged, stderr, seconds = signalled_training(digits, tmp_path, signal.SIGUSR1)
    assert status == EXIT_RESUME and "on SIGUSR1" in stderr and seconds < 10, (status, stderr, seconds)
    assert logged <= list_checkpoints(tmp_path / "state")[-1][0] < ITERATIONS


@pytest.mark.slow
def test_a_sigterm_training_snapshots_where_it_is_and_resumes_bit_for_bit(digits, tmp_path):
    status, logged, stderr, seconds = signalled_training(digits, tmp_path / "run", signal.SIGTERM)
    assert status == EXIT_RESUME, stderr
    assert "on SIGTERM" in stderr and seconds < 10, (stderr, seconds)
    (stopped_at, resume_point), *_ = reversed(list_checkpoints(tmp_path / "run" / "state"))
    assert logged <= stopped_at < ITERATIONS  # at most the iterations since the last loss row are lost
    assert not (tmp_path / "run" / "out" / "run.json").exists()  # nothing published before the end

    log: list[str] = []
    train(digits, tmp_path / "run" / "state", tmp_path / "run" / "out", SETTINGS, threads=1, log=log.append)
    assert any(f"resuming from {resume_point}" in line for line in log), log
    sessions = json.loads((tmp_path / "run" / "out" / "run.json").read_text())["sessions"]
    assert [(s["start_iteration"], s["end_iteration"], s.get("stopped")) for s in sessions] == [
        (0, stopped_at, "on SIGTERM"),
        (stopped_at, ITERATIONS, None),
    ]
    train(digits, tmp_path / "straight" / "state", tmp_path / "straight" / "out", SETTINGS, threads=1, log=[].append)
    ours, theirs = (
        torch.load(root / "state" / f"ckpt_{ITERATIONS}.pt", map_location="cpu", weights_only=True)
        for root in (tmp_path / "run", tmp_path / "straight")
    )
    for name, tensor in theirs["model"].items():
        assert torch.equal(ours["model"][name], tensor), name
    # the losses (NaN where a window drew no example of a level, so compared as text), not the it/s column
    assert str([row[:-1] for row in ours["loss_log"]]) == str([row[:-1] for row in theirs["loss_log"]])
    assert not list((tmp_path / "run" / "out" / "checkpoints").glob(f"ckpt_{stopped_at}.pt"))  # never published


@pytest.mark.slow
def test_a_job_given_gpus_that_torch_cannot_see_stops_before_any_work(digits, tmp_path):
    """device auto in a job Slurm gave a GPU, on a torch without one (old driver, CPU build): no silent CPU run."""
    command = [sys.executable, "-m", "ncsn", "train", "--data", str(digits), "--state-dir", str(tmp_path / "state")]
    command += ["--out-dir", str(tmp_path / "out"), "--settings", json.dumps({**SETTINGS, "device": "auto"})]
    env = {k: v for k, v in os.environ.items() if k != "NCSN_ALLOW_CPU_FALLBACK"}
    given = subprocess.run(command, capture_output=True, text=True, env={**env, "SLURM_JOB_GPUS": "0"}, timeout=120)
    assert given.returncode == 2, given.stderr
    assert "this job was given GPUs (SLURM_JOB_GPUS=0) but torch sees none" in given.stderr
    cuda = torch.version.cuda
    expected = "CPU-only build" if cuda is None else f"built for CUDA {cuda}, which needs an NVIDIA driver"
    assert expected in given.stderr and "NCSN_ALLOW_CPU_FALLBACK=1" in given.stderr
    assert not (tmp_path / "state").exists() or not list_checkpoints(tmp_path / "state")
    # the explicit opt-out (a test cluster's dummy GPUs) trains on the CPU
    short = {**SETTINGS, "device": "auto", "training": {**SETTINGS["training"], "iterations": 2, "snapshot_freq": 2}}
    command[-1] = json.dumps(short)
    allowed = {**env, "CUDA_VISIBLE_DEVICES": "0", "NCSN_ALLOW_CPU_FALLBACK": "1"}
    assert subprocess.run(command, capture_output=True, text=True, env=allowed, timeout=120).returncode == 0
