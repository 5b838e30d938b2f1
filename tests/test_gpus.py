"""The lock-file GPU allocator, simulated on CPU: pretended GPUs named by UUID, jobs started together.

The identities are what ``torch.cuda.get_device_properties(i).uuid`` reports on a real machine;
here each job is told its visible GPUs' identities, as two jobs of one SLURM allocation (same
cards, same order), two allocations sharing a node (each numbers its own cards from 0) or a
cgroup that renumbers the cards would see them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from ncsn import gpus
from ncsn.errors import NcsnError

# A job: take a GPU among the identities given, claim that card with a marker file named by its
# identity that must not exist yet (a second holder would find it), hold it a while, give the
# marker back, exit (which releases the lock). An empty lock folder means the default one.
JOB = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from ncsn import gpus
    locks, out, ids, hold = sys.argv[1] or None, Path(sys.argv[2]), sys.argv[3].split(","), float(sys.argv[4])
    index = gpus.acquire(ids, locks)
    marker = out / f"held-{ids[index]}"
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        (out / f"collision-{os.getpid()}").write_text(ids[index])
        raise SystemExit(1)
    os.close(fd)
    (out / f"got-{os.getpid()}").write_text(ids[index])
    time.sleep(hold)
    marker.unlink()
    """
)


def _job(locks: Path | None, out: Path, ids: list[str], hold: float, env: dict | None = None) -> subprocess.Popen:
    argv = [sys.executable, "-c", JOB, str(locks or ""), str(out), ",".join(ids), str(hold)]
    return subprocess.Popen(argv, env=env)


def _cards(n: int) -> list[str]:
    """n fresh card identities (unique, so that tests sharing the machine's lock folder never meet)."""
    return [f"GPU-{uuid.uuid4()}" for _ in range(n)]


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _finish(jobs: list[subprocess.Popen], out: Path) -> list[str]:
    codes = [job.wait(timeout=120) for job in jobs]
    assert codes == [0] * len(jobs), sorted(p.name for p in out.iterdir())
    assert not list(out.glob("collision-*"))
    return sorted(p.read_text() for p in out.glob("got-*"))


def test_n_plus_two_jobs_on_n_gpus_never_share_one_and_all_get_one(tmp_path):
    cards, locks, out = _cards(2), tmp_path / "locks", tmp_path / "out"
    out.mkdir()
    got = _finish([_job(locks, out, cards, hold=1.0) for _ in range(len(cards) + 2)], out)
    assert len(got) == len(cards) + 2 and set(got) == set(cards)


def test_jobs_that_see_the_cards_renumbered_never_share_one(tmp_path):
    """Jobs of one allocation whose cgroups list the same two cards in opposite orders (visible
    index 0 is a different card for each): locks follow the card, not the index."""
    cards, locks, out = _cards(2), tmp_path / "locks", tmp_path / "out"
    out.mkdir()
    jobs = [_job(locks, out, order, hold=1.0) for order in (cards, cards[::-1], cards, cards[::-1])]
    assert set(_finish(jobs, out)) == set(cards)


def test_two_allocations_on_one_node_do_not_block_each_other(tmp_path):
    """Each allocation numbers its own card 0: with index-named locks the second would wait for the
    first's card; with UUIDs both start at once, on their own cards."""
    first, second = _cards(1), _cards(1)
    locks, out = tmp_path / "locks", tmp_path / "out"
    out.mkdir()
    holder = _job(locks, out, first, hold=600)
    try:
        _wait_for(lambda: list(out.glob("got-*")))
        assert gpus.acquire(second, locks, timeout=0) == 0
        gpus.release()
        with pytest.raises(NcsnError, match="stayed taken"):
            gpus.acquire(first, locks, timeout=0.2)
    finally:
        gpus.release()
        holder.kill()
        holder.wait()


def test_jobs_with_their_own_tmpdir_share_the_machines_lock_folder(tmp_path, monkeypatch):
    """Snakemake and SLURM give each job its own TMPDIR: the default lock folder ignores it."""
    monkeypatch.delenv(gpus.LOCK_DIR_VARIABLE, raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert gpus.lock_dir() == gpus.DEFAULT_LOCK_DIR
    cards, out = _cards(1), tmp_path / "out"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k != gpus.LOCK_DIR_VARIABLE}
    jobs = []
    for i in range(2):
        (tmp_path / f"job{i}").mkdir()
        jobs.append(_job(None, out, cards, hold=1.0, env=dict(env, TMPDIR=str(tmp_path / f"job{i}"))))
    assert _finish(jobs, out) == cards * 2
    assert (gpus.DEFAULT_LOCK_DIR / f"gpu-{cards[0]}.lock").is_file()
    (gpus.DEFAULT_LOCK_DIR / f"gpu-{cards[0]}.lock").unlink()


def test_a_killed_jobs_gpu_is_freed(tmp_path):
    cards, locks, out = _cards(1), tmp_path / "locks", tmp_path / "out"
    out.mkdir()
    holder = _job(locks, out, cards, hold=600)
    _wait_for(lambda: list(out.glob("got-*")))
    waiter = _job(locks, out, cards, hold=0)
    time.sleep(1.5)
    assert waiter.poll() is None, "the second job got the only GPU while the first one held it"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    (out / f"held-{cards[0]}").unlink()  # the killed job could not clean up its marker; its lock went with it
    assert waiter.wait(timeout=60) == 0
    assert [p.read_text() for p in out.glob(f"got-{waiter.pid}")] == cards


def test_identities_come_from_the_driver_else_cuda_visible_devices(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: SimpleNamespace(uuid=f"uuid-{i}"))
    assert gpus.device_ids(2) == ["GPU-uuid-0", "GPU-uuid-1"]
    bus = lambda i: SimpleNamespace(uuid="", pci_domain_id=0, pci_bus_id=0x41 + i, pci_device_id=0)  # noqa: E731
    monkeypatch.setattr(torch.cuda, "get_device_properties", bus)
    assert gpus.device_ids(2) == ["pci-0000:41:00", "pci-0000:42:00"]
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: SimpleNamespace())
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1")
    assert gpus.device_ids(2) == ["3", "1"]


@pytest.mark.parametrize("slurm_job", [None, "42"])
def test_select_device_takes_a_free_gpu_in_and_out_of_a_slurm_allocation(tmp_path, monkeypatch, slurm_job):
    """The wiring in select_device, with torch told it has 3 GPUs (no GPU here to ask): inside a
    SLURM allocation with several GPUs (salloc --gpus=3 and a local Snakemake) as on a workstation."""
    import torch

    from ncsn.device import select_device

    cards = _cards(3)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: SimpleNamespace(uuid=cards[i][4:]))
    monkeypatch.setenv(gpus.LOCK_DIR_VARIABLE, str(tmp_path))
    if slurm_job:
        monkeypatch.setenv("SLURM_JOB_ID", slurm_job)
    else:
        monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    out = tmp_path / "out"
    out.mkdir()
    other = _job(tmp_path, out, cards, hold=600)  # holds the first card
    try:
        _wait_for(lambda: list(out.glob("got-*")))
        assert select_device("auto") == torch.device("cuda", 1)
        assert select_device("cuda") == torch.device("cuda", 1)  # the same card for the rest of the job
    finally:
        gpus.release()
        other.kill()
        other.wait()
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # a SLURM job given one GPU: no lock
    assert select_device("auto") == torch.device("cuda", 0) and not gpus._held
