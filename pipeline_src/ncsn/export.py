"""Samples as PNG files, so any image tool (or ``ncsn fidelity``, torch-fidelity, clean-fid) can read them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ncsn.errors import NcsnError
from ncsn.generate import load_shard, load_shards
from ncsn.io import atomic_path


def shard_paths(paths: list[str | os.PathLike]) -> list[Path]:
    """Shard files named directly, or every ``shard_*.npz`` of a samples folder (one draw)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            shards = sorted(path.glob("shard_*_of_*.npz"))
            if not shards:
                raise NcsnError(
                    f"{path} holds no shard_K_of_N.npz files; give shard files or a results/samples/DATASET/EXPERIMENT folder"
                )
            found += shards
        else:
            found.append(path)
    return found


def load_samples(paths: list[str | os.PathLike]) -> tuple[np.ndarray, int]:
    """(uint8 NHWC images, index of the first) of one shard, or of all shards of a draw together."""
    files = shard_paths(paths)
    if len(files) == 1:
        images, info = load_shard(files[0])
        return images, int(info.get("start", 0))
    images, _ = load_shards(files)
    return images, 0


def write_pngs(images: np.ndarray, out_dir: str | os.PathLike, first_index: int = 0) -> list[Path]:
    """``{index:06d}.png`` per image (grey for one channel), each written atomically; returns the paths."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise NcsnError(f"expected uint8 images (N, H, W, 1 or 3), got {images.dtype} {images.shape}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for offset, image in enumerate(images):
        path = out / f"{first_index + offset:06d}.png"
        with atomic_path(path) as tmp:
            Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(tmp, format="PNG")
        paths.append(path)
    return paths
