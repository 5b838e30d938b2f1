"""The lock-file GPU allocator, simulated on CPU: N pretended GPUs, N+2 jobs started together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ncsn import gpus
from ncsn.errors import NcsnError

# A job: take a GPU, claim it with a marker file that must not exist yet (a second holder would
# find it), hold it a while, give the marker back, exit (which releases the lock).
JOB = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from ncsn import gpus
    locks, out, count, hold = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    index = gpus.acquire(count, locks)
    marker = out / f"held-{index}"
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        (out / f"collision-{os.getpid()}").write_text(str(index))
        raise SystemExit(1)
    os.close(fd)
    (out / f"got-{os.getpid()}").write_text(str(index))
    time.sleep(hold)
    marker.unlink()
    """
)


def _job(locks: Path, out: Path, count: int, hold: float, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", JOB, str(locks), str(out), str(count), str(hold)], env=env)


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_n_plus_two_jobs_on_n_gpus_never_share_one_and_all_get_one(tmp_path):
    count, locks, out = 2, tmp_path / "locks", tmp_path / "out"
    out.mkdir()
    jobs = [_job(locks, out, count, hold=1.0) for _ in range(count + 2)]
    codes = [job.wait(timeout=120) for job in jobs]
    assert codes == [0] * len(jobs), sorted(p.name for p in out.iterdir())
    assert not list(out.glob("collision-*"))
    got = sorted(int(p.read_text()) for p in out.glob("got-*"))
    assert len(got) == count + 2 and set(got) == set(range(count))


def test_a_killed_jobs_gpu_is_freed(tmp_path):
    locks, out = tmp_path / "locks", tmp_path / "out"
    out.mkdir()
    holder = _job(locks, out, 1, hold=600)
    _wait_for(lambda: list(out.glob("got-*")))
    waiter = _job(locks, out, 1, hold=0)
    time.sleep(1.5)
    assert waiter.poll() is None, "the second job got the only GPU while the first one held it"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    (out / "held-0").unlink()  # the killed job could not clean up its marker; its lock went with it
    assert waiter.wait(timeout=60) == 0
    assert [p.read_text() for p in out.glob(f"got-{waiter.pid}")] == ["0"]


def test_gpu_names_follow_cuda_visible_devices(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1")
    assert gpus.visible_ids(2) == ["3", "1"]
    # another job that sees only card 1 (visible index 0 there) holds it
    out = tmp_path / "out"
    out.mkdir()
    other = _job(tmp_path, out, 1, hold=600, env=dict(os.environ, CUDA_VISIBLE_DEVICES="1"))
    try:
        _wait_for(lambda: list(out.glob("got-*")))
        assert gpus.acquire(2, tmp_path, timeout=0) == 0  # visible index 0 here is card 3: free
        assert gpus.acquire(2, tmp_path, timeout=0) == 0  # a process keeps the card it holds
        gpus.release()
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
        with pytest.raises(NcsnError, match="stayed taken"):
            gpus.acquire(1, tmp_path, timeout=0.2)
    finally:
        gpus.release()
        other.kill()
        other.wait()


def test_select_device_takes_a_free_gpu_and_leaves_slurm_jobs_alone(tmp_path, monkeypatch):
    """The wiring in select_device, with torch told it has 3 GPUs (no GPU here to ask)."""
    import torch

    from ncsn.device import select_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)
    monkeypatch.setenv("NCSN_GPU_LOCK_DIR", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    out = tmp_path / "out"
    out.mkdir()
    other = _job(tmp_path, out, 3, hold=600)  # holds GPU 0
    try:
        _wait_for(lambda: list(out.glob("got-*")))
        assert select_device("auto") == torch.device("cuda", 1)
        assert select_device("cuda") == torch.device("cuda", 1)  # the same card for the rest of the job
        gpus.release()
        monkeypatch.setenv("SLURM_JOB_ID", "42")
        assert select_device("auto") == torch.device("cuda", 0)  # SLURM assigns cards: no lock taken
        assert not gpus._held
    finally:
        gpus.release()
        other.kill()
        other.wait()
