"""Atomic file output: a reader never sees a partial file, a failed write leaves nothing behind."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ncsn.errors import NcsnError

FULL_DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``, else delete it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; published results must be readable like any other file.
        os.chmod(tmp_path, 0o666 & ~_current_umask())
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (identifies weight files in recorded results)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def human_bytes(count: float) -> str:
    """``count`` bytes in bytes, KiB, MiB or GiB."""
    if count < 1024:
        return f"{count:.0f} bytes"
    for unit in ("KiB", "MiB"):
        count /= 1024
        if count < 1024:
            return f"{count:.1f} {unit}"
    return f"{count / 1024:.1f} GiB"


def payload_bytes(obj: Any) -> int:
    """Bytes of the arrays and tensors inside ``obj`` (dicts, lists, tuples): about what saving it writes."""
    if isinstance(obj, dict):
        return sum(payload_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(payload_bytes(v) for v in obj)
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if hasattr(obj, "element_size") and hasattr(obj, "numel"):  # a torch tensor (torch not imported here)
        return obj.element_size() * obj.numel()
    return 0


@contextlib.contextmanager
def disk_full_named(path: str | os.PathLike, obj: Any) -> Iterator[None]:
    """Turn a write that failed for want of space into an error naming the folder, its free space and the size
    the file needs. torch.save reports a full disk as an opaque RuntimeError, so a failed write counts as a
    full disk also when the free space left is below the file's size."""
    try:
        yield
    except (OSError, RuntimeError) as err:
        target = Path(path)
        needs = payload_bytes(obj)
        free = shutil.disk_usage(target.parent).free if target.parent.is_dir() else None
        if getattr(err, "errno", None) not in FULL_DISK_ERRORS and (free is None or free >= needs):
            raise
        raise NcsnError(
            f"no space left to write {target.name} in {target.parent}: {human_bytes(free or 0)} free there, and the file "
            f"needs about {human_bytes(needs)}. Nothing was replaced (every earlier file there is intact) and no "
            "temporary file is left: free space on that file system (or move the folder to a larger one) and run "
            f"the same command again ({type(err).__name__}: {' '.join(str(err).split())[:200]})"
        ) from err


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Save arrays to an uncompressed ``.npz`` (fast to load), atomically."""
    with disk_full_named(path, arrays), atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)


def save_torch(path: str | os.PathLike, obj: Any) -> None:
    """``torch.save`` through a synced temporary file, atomically.

    Saving through a file handle keeps the bytes independent of the temporary file's name
    (``torch.save(obj, path)`` records the name inside the archive), so equal objects give
    equal files and equal hashes.
    """
    import torch  # imported here: the data stage uses this module without torch

    with disk_full_named(path, obj), atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
