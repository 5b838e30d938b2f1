"""One GPU per job on a multi-GPU machine or allocation: an allocator over the visible GPUs through lock files.

Snakemake never tells a local job which GPU to use, so every job would land on ``cuda:0``. A
job instead takes an exclusive ``flock`` on ``{lock_dir}/gpu-{identity}.lock`` of the first free
visible GPU and holds it until the process ends; the operating system drops the lock when the
process exits or is killed, so a crashed job never leaves its GPU reserved. ``identity`` is the
card's UUID as the driver reports it (:func:`device_ids`): the same card has the same UUID in
every job, however ``CUDA_VISIBLE_DEVICES`` or a SLURM allocation's cgroup renumbers it, so jobs
of one workstation, of one ``salloc --gpus=4`` allocation or of two allocations sharing a node
agree on which card is taken. The lock folder is one per machine and does not follow ``TMPDIR``
(Snakemake and SLURM point that at a folder of each job's own). When every GPU is taken the
job waits for one to be freed.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from pathlib import Path
from typing import Callable, Sequence

from ncsn.errors import NcsnError

LOCK_DIR_VARIABLE = "NCSN_GPU_LOCK_DIR"
# Not tempfile.gettempdir(): that follows TMPDIR, which differs per job.
DEFAULT_LOCK_DIR = Path("/tmp/ncsn-gpu-locks")
POLL_SECONDS = 0.5

# lock files held by this process, by visible index: kept open (and so locked) until it exits
_held: dict[int, int] = {}


def lock_dir() -> Path:
    """``$NCSN_GPU_LOCK_DIR``, else ``/tmp/ncsn-gpu-locks`` (one per machine, whatever ``TMPDIR`` says)."""
    return Path(os.environ.get(LOCK_DIR_VARIABLE) or DEFAULT_LOCK_DIR)


def visible_ids(num_devices: int) -> list[str]:
    """Names of the ``num_devices`` visible GPUs without the driver: ``CUDA_VISIBLE_DEVICES``' entries, else 0..N-1."""
    listed = [item.strip() for item in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if item.strip()]
    if len(listed) >= num_devices:
        return listed[:num_devices]
    return [str(i) for i in range(num_devices)]


def device_ids(num_devices: int) -> list[str]:
    """Machine-wide identities of the ``num_devices`` visible CUDA GPUs: ``GPU-{uuid}`` as torch reports
    it (the PCI bus id where a build has no UUID), else :func:`visible_ids`."""
    import torch

    ids = []
    for index in range(num_devices):
        props = torch.cuda.get_device_properties(index)
        uuid = str(getattr(props, "uuid", "") or "")
        if uuid:
            ids.append(uuid if uuid.startswith("GPU-") else f"GPU-{uuid}")
        elif hasattr(props, "pci_bus_id"):
            ids.append(f"pci-{getattr(props, 'pci_domain_id', 0):04x}:{props.pci_bus_id:02x}:{props.pci_device_id:02x}")
        else:
            return visible_ids(num_devices)
    return ids


def _try_lock(path: Path) -> int | None:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        writable = True
    except PermissionError:  # another user's lock file: a read-only descriptor locks just as well
        fd, writable = os.open(path, os.O_RDONLY), False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    if writable:
        if os.fstat(fd).st_uid == os.getuid():
            os.fchmod(fd, 0o666)  # other users of the machine may lock it too
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {os.environ.get('SLURM_JOB_ID', '')}\n".encode())  # who holds it, for people
    return fd


def acquire(
    ids: Sequence[str],
    directory: str | os.PathLike | None = None,
    timeout: float | None = None,
    log: Callable[[str], None] | None = None,
) -> int:
    """Reserve one of the visible GPUs named ``ids`` (machine-wide identities, in visible order) for
    the rest of this process; returns its visible index.

    A process keeps the GPU it already holds. Waits while all are taken (up to ``timeout``
    seconds, forever when None), telling ``log`` once that it waits.
    """
    if not ids:
        raise NcsnError("no GPU to allocate (no visible GPU)")
    if _held:
        return next(iter(_held))
    directory = Path(directory) if directory is not None else lock_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o1777)  # other users of the machine share the same locks
    except PermissionError:
        pass
    except OSError as err:
        raise NcsnError(
            f"cannot create the GPU lock folder {directory} ({err}); set {LOCK_DIR_VARIABLE} to a writable local folder"
        ) from err
    deadline = None if timeout is None else time.monotonic() + timeout
    told = False
    while True:
        for index, name in enumerate(ids):
            fd = _try_lock(directory / f"gpu-{re.sub(r'[^A-Za-z0-9_.:-]', '_', name)}.lock")
            if fd is not None:
                _held[index] = fd
                return index
        if deadline is not None and time.monotonic() >= deadline:
            raise NcsnError(
                f"all {len(ids)} GPUs stayed taken by other ncsn jobs for {timeout} s (locks in {directory})"
            )
        if not told and log is not None:
            log(f"all {len(ids)} GPUs are taken by other ncsn jobs (locks in {directory}); waiting for one to be free")
            told = True
        time.sleep(POLL_SECONDS)


def release() -> None:
    """Give back the GPU this process holds (exiting does the same)."""
    while _held:
        os.close(_held.popitem()[1])
