"""Training speed (iterations/s) of the real training step: the digits default and the CIFAR-10-shape CondRefineNet.

Each case builds the same ``ncsn.train.Trainer`` the ``train`` command uses (random uint8
images of the right shape; speed does not depend on pixel values), runs warm-up steps, then
times ``steps`` optimisation steps. On CPU the CIFAR-shape model runs at a reduced batch (one
batch-128 step takes many minutes on a few cores); its row says so. When a GPU is present, the
CIFAR-shape model is timed at batch 128 in fp32, with bf16 autocast + channels_last, and with
torch.compile added, next to the [Re] report's 1.73 it/s on a V100 (its Table 1).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ncsn.schedules import make_sigmas
from ncsn.settings import check_envelope, defaults
from ncsn.train import Trainer, resolve_settings

RE_REPORT_ROWS = [
    # [Re] NCSN report, Appendix Table 1 ("Training with RefineNet")
    {"case": "[Re] report, CIFAR-10 / CelebA, V100, batch 128 (reference)", "value": 1.73},
    {"case": "[Re] report, MNIST, P100, batch 128 (reference)", "value": 2.35},
]


def iterations_per_second(
    shape: tuple[int, int, int], ngf: int, batch: int, device: str, steps: int, warmup: int = 2, **training
) -> float:
    """Time ``steps`` training steps of CondRefineNet(ngf) on (H, W, C) images at ``batch``."""
    images = np.random.default_rng(0).integers(0, 256, (max(batch, 512), *shape), dtype=np.uint8)
    sigmas = make_sigmas(defaults("schedule"))
    given = {
        "model": {"arch": "refinenet", "ngf": ngf},
        "training": {"batch_size": batch, **training},
        "device": device,
    }
    settings = resolve_settings(check_envelope("train", given), images.shape)
    trainer = Trainer(settings, images, sigmas, torch.device(device))
    for _ in range(warmup):
        trainer.step()
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sync()
    started = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    sync()
    return steps / (time.perf_counter() - started)


def row(case: str, value: float, note: str = "") -> dict:
    return {
        "benchmark": "train",
        "case": case,
        "metric": "iterations_per_s",
        "value": value,
        "unit": "it/s",
        "note": note,
    }


def run() -> list[dict]:
    # threads: torch's default (OMP_NUM_THREADS when set), as recorded in the results' machine block;
    # on a shared CPU run with OMP_NUM_THREADS=1, as oversubscribed threads slow every step down many times
    cpu = f"cpu x{torch.get_num_threads()} threads; provisional: measured on a shared CPU"
    rows = [
        row(
            "digits default: refinenet ngf32 8x8x1 b128 cpu fp32",
            iterations_per_second((8, 8, 1), 32, 128, "cpu", steps=3, warmup=1),
            cpu,
        ),
        row(
            "digits default: refinenet ngf32 8x8x1 b128 cpu bf16 autocast",
            iterations_per_second((8, 8, 1), 32, 128, "cpu", steps=1, warmup=1, amp=True),
            f"{cpu}; bf16 autocast is slower than fp32 on CPU for this network",
        ),
        row(
            "digits small: refinenet ngf16 8x8x1 b64 cpu fp32",
            iterations_per_second((8, 8, 1), 16, 64, "cpu", steps=5, warmup=1),
            cpu,
        ),
        row(
            "cifar10 shape: refinenet ngf128 32x32x3 b4 cpu fp32",
            iterations_per_second((32, 32, 3), 128, 4, "cpu", steps=1, warmup=1),
            f"{cpu}; batch 4, not 128 (a batch-128 step takes many minutes on CPU); expect roughly 32x fewer it/s at batch 128",
        ),
    ]
    if torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(0)
        cifar = ((32, 32, 3), 128, 128, "cuda")
        rows += [
            row(f"cifar10 shape: refinenet ngf128 b128 {gpu} fp32", iterations_per_second(*cifar, steps=20)),
            row(
                f"cifar10 shape: refinenet ngf128 b128 {gpu} bf16+channels_last",
                iterations_per_second(*cifar, steps=20, amp=True, channels_last=True),
            ),
            row(
                f"cifar10 shape: refinenet ngf128 b128 {gpu} bf16+channels_last+compile",
                iterations_per_second(*cifar, steps=20, warmup=5, amp=True, channels_last=True, compile=True),
            ),
        ]
    rows += [row(r["case"], r["value"], "typed in from the [Re] report, not measured here") for r in RE_REPORT_ROWS]
    return rows
