"""Image sets a user points at, for scoring images the workflow did not draw (``ncsn fidelity``).

An image set is a folder of PNG/JPEG files, an ``.npz`` with an ``images`` array (a sample shard
of ``ncsn sample``, a prepared split, or the user's own uint8 NHWC array), or a prepared data set
folder (``meta.json``, ``train.npz``, ``test.npz``), read by default as the workflow's reference
statistics read it: its training split (the paper's 50k CIFAR-10 training images). A reference may
also be a statistics file (``ncsn ref-stats``, or any ``.npz`` with ``mu`` and ``sigma``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ncsn.data.images import is_image, read_images
from ncsn.data.store import META_FILE, REFERENCE_SPLIT, SPLITS, load_split
from ncsn.errors import NcsnError
from ncsn.metrics.extractors import Extractor
from ncsn.metrics.fidelity import Statistics
from ncsn.metrics.refstats import load_reference

KINDS_HELP = "a folder of PNG/JPEG images, an .npz with an 'images' array, or a prepared data set folder"
PREPARED_SPLITS = (*SPLITS, "all")  # what `split` may name: one split, or both


def is_prepared_data_set(path: str | os.PathLike) -> bool:
    """True for a folder ``ncsn prepare`` wrote (``meta.json`` beside ``train.npz`` and ``test.npz``)."""
    return Path(path).is_dir() and (Path(path) / META_FILE).is_file()


def load_images(path: str | os.PathLike, channels: int, split: str = REFERENCE_SPLIT) -> np.ndarray:
    """uint8 (N, H, W, C) of an image set; folders are read at their size with ``channels`` (1 grey, 3 RGB).

    ``split`` picks the images of a prepared data set folder: ``train``, ``test`` or ``all`` (both).
    """
    path = Path(path)
    if is_prepared_data_set(path):
        if split not in PREPARED_SPLITS:
            raise NcsnError(f"split {split!r} of {path}: expected one of {', '.join(PREPARED_SPLITS)}")
        chosen = SPLITS if split == "all" else (split,)
        return np.concatenate([load_split(path / f"{name}.npz")[0] for name in chosen])
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if is_image(p))
        if not files:
            raise NcsnError(f"no PNG/JPEG images found in {path} (searched sub-folders too); expected {KINDS_HELP}")
        return read_images(files, None, None, channels, "bilinear", None)
    if path.suffix == ".npz" and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                if "images" not in data.files:
                    raise NcsnError(f"{path} has no 'images' array (it has {data.files}); expected {KINDS_HELP}")
                images = data["images"]
        except (OSError, ValueError) as err:
            raise NcsnError(f"{path} cannot be read as an .npz ({err})") from err
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise NcsnError(f"{path}: 'images' must be uint8 (N, H, W, 1 or 3), got {images.dtype} {images.shape}")
        return images
    raise NcsnError(f"{path} does not exist or is not {KINDS_HELP}")


def is_statistics_file(path: str | os.PathLike) -> bool:
    """True for an ``.npz`` holding ``mu`` and ``sigma`` (saved FID statistics) rather than images."""
    path = Path(path)
    if path.suffix != ".npz" or not path.is_file():
        return False
    with np.load(path, allow_pickle=False) as data:
        return {"mu", "sigma"} <= set(data.files)


def load_statistics(path: str | os.PathLike, extractor: Extractor) -> tuple[Statistics, dict[str, Any]]:
    """Saved FID statistics: a ref-stats file (checked against ``extractor``) or a bare ``mu``/``sigma`` file.

    A bare file gives torch-fidelity's FID only: clean-fid's statistics and the features of KID and
    precision/recall are None, so those metrics stay empty.
    """
    with np.load(path, allow_pickle=False) as data:
        names = set(data.files)
        if "meta" in names:
            return load_reference(path, extractor)
        mu, sigma = data["mu"], data["sigma"]
    return Statistics(0, (mu, sigma), None), {"data": str(path), "num_images": None, "statistics_only": True}
