"""On-disk format of a prepared data set: ``train.npz``/``test.npz`` (uint8 NHWC + int64 labels) and ``meta.json``."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ncsn.errors import NcsnError
from ncsn.io import save_npz
from ncsn.records import PREPARED_DATA

SPLITS = ("train", "test")
META_FILE = "meta.json"
# The split reference statistics are computed on: the workflow's `ref_stats` and `evaluate` rules
# read it, and `ncsn fidelity` defaults to it (the paper's 50k CIFAR-10 training images).
REFERENCE_SPLIT = "train"


def split_path(out_dir: str | os.PathLike, split: str) -> Path:
    return Path(out_dir) / f"{split}.npz"


def content_hash(arrays: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """sha256 over every split's images and labels (dtype, shape and bytes), in split order."""
    digest = hashlib.sha256()
    for split in sorted(arrays):
        for array in arrays[split]:
            digest.update(f"{split}:{array.dtype.str}:{array.shape}".encode())
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def check_arrays(images: np.ndarray, labels: np.ndarray, what: str) -> None:
    """Enforce the contract: images uint8 (N, H, W, C), labels int64 (N,)."""
    if images.dtype != np.uint8 or images.ndim != 4:
        raise NcsnError(f"{what}: images must be uint8 (N, H, W, C), got {images.dtype} {images.shape}")
    if labels.dtype != np.int64 or labels.shape != (images.shape[0],):
        raise NcsnError(
            f"{what}: labels must be int64 of shape ({images.shape[0]},), got {labels.dtype} {labels.shape}"
        )


def write_dataset(
    out_dir: str | os.PathLike, arrays: dict[str, tuple[np.ndarray, np.ndarray]], meta: dict[str, Any]
) -> dict[str, Any]:
    """Write both splits and ``meta.json`` into a temporary folder, then move them into ``out_dir``.

    ``meta.json`` moves last, so its presence marks a complete data set; nothing in ``out_dir``
    changes until every file has been written.
    """
    for split in SPLITS:
        check_arrays(*arrays[split], what=f"{split} split")
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(meta, content_sha256=content_hash(arrays))
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        for split in SPLITS:
            images, labels = arrays[split]
            save_npz(split_path(staging, split), images=images, labels=labels)
        PREPARED_DATA.write(staging / META_FILE, meta)
        out.mkdir(exist_ok=True)
        for name in [f"{split}.npz" for split in SPLITS] + [META_FILE]:
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return meta


def load_split(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read one prepared split (``.../train.npz``): images uint8 (N, H, W, C) and labels int64 (N,)."""
    path = Path(path)
    if not path.is_file():
        raise NcsnError(
            f"prepared data file {path} does not exist; create it with "
            f"`python -m ncsn prepare --name NAME --settings JSON --out-dir {path.parent}` (the workflow's data rule does this)"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            images, labels = data["images"], data["labels"]
    except (OSError, ValueError, KeyError) as err:
        raise NcsnError(
            f"{path} is not a prepared data split with arrays 'images' and 'labels' ({err}); delete it and run prepare again"
        ) from err
    check_arrays(images, labels, what=str(path))
    return images, labels


def load_meta(out_dir: str | os.PathLike) -> dict[str, Any]:
    """The ``meta.json`` of a prepared data set (its record, :data:`ncsn.records.PREPARED_DATA`)."""
    return PREPARED_DATA.read(Path(out_dir) / META_FILE)
