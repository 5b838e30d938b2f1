"""Data speed: training batches per second from DeviceBatcher, and images per second through prepare's decode path."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ncsn.data.images import read_images
from ncsn.data.loader import DeviceBatcher


def batches_per_second(device: str, n_batches: int) -> float:
    images = np.random.default_rng(0).integers(0, 256, (50_000, 32, 32, 3), dtype=np.uint8)  # CIFAR-10 sized
    batcher = DeviceBatcher(images, 128, device, flip=True, seed=0)
    batcher.next()
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(n_batches):
        batcher.next()
    if device == "cuda":
        torch.cuda.synchronize()
    return n_batches / (time.perf_counter() - started)


def celeba_images_per_second(n_images: int) -> float:
    """Decode + centre crop 140 + resize 32 of synthetic 178x218 JPEGs (the CelebA path)."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for k in range(n_images):
            path = Path(folder) / f"{k:06d}.jpg"
            Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(path, quality=90)
            paths.append(path)
        started = time.perf_counter()
        read_images(paths, 140, 32, 3, "bilinear", None)
        return n_images / (time.perf_counter() - started)


def run() -> list[dict]:
    rows = [
        {
            "benchmark": "data",
            "case": "DeviceBatcher cifar10 b128 flip cpu",
            "metric": "batches_per_s",
            "value": batches_per_second("cpu", 200),
            "unit": "1/s",
        }
    ]
    if torch.cuda.is_available():
        rows.append(
            {
                "benchmark": "data",
                "case": "DeviceBatcher cifar10 b128 flip cuda",
                "metric": "batches_per_s",
                "value": batches_per_second("cuda", 2000),
                "unit": "1/s",
            }
        )
    rows.append(
        {
            "benchmark": "data",
            "case": "celeba jpeg decode+crop140+resize32",
            "metric": "images_per_s",
            "value": celeba_images_per_second(500),
            "unit": "1/s",
        }
    )
    return rows
