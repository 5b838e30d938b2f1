"""Core speed on CPU: one DSM training step (forward + backward + Adam) and one annealed-Langevin
step (score evaluation + update) of CondRefineNet, at CIFAR-10 shape and the digits default shape,
set beside the official implementation's times on a 2-core machine of this project's kind.

The network is the official one (same parameters, same outputs); the gain comes from the
implementation: a fused CondInstanceNorm++ (statistics once, one multiply-add instead of the
instance norm + five full-size ops), inference mode for sampling, channels_last memory format
(faster convolutions and 5x5 average pooling on oneDNN). Each variant is timed after warm-up;
the value is the median of the timed repetitions. bf16 autocast is a switch (``AMP_CASES``):
this CPU has no native bf16 (torch reports AVX2), where it was measured several times slower.
torch.compile is not used: compiling CondRefineNet took minutes here, more than it saves in a
benchmark-sized run.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch

from ncsn.losses import dsm_loss
from ncsn.models import build_model
from ncsn.sampling import langevin
from ncsn.schedules import make_sigmas

# name -> network shape, batches, repetitions, and the official code's seconds per step on a
# 2-core machine (issue 3; None where no reference was measured)
CASES = {
    "cifar10 3x32x32 ngf128": {
        "channels": 3, "image_size": 32, "ngf": 128, "train_batch": 16, "sample_batch": 64,
        "reps": 2, "official": {"train_step": 6.0, "langevin_step": 8.3},
    },
    "digits 1x8x8 ngf32": {
        "channels": 1, "image_size": 8, "ngf": 32, "train_batch": 64, "sample_batch": 64,
        "reps": 10, "official": {"train_step": 0.21, "langevin_step": None},
    },
}
VARIANTS = {"fp32": False, "fp32 channels_last": True}  # name -> channels_last
AMP_CASES = ("digits 1x8x8 ngf32",)  # bf16 autocast train step timed here only (slow on AVX2 CPUs)
STEP_LR = 2e-5  # paper's eps; the step cost does not depend on it


def seconds(step: Callable[[], None], reps: int, warmup: int = 1) -> float:
    """Median wall time of ``step`` over ``reps`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def make_model(case: dict, channels_last: bool) -> torch.nn.Module:
    spec = {"arch": "refinenet", "num_classes": 10, **{k: case[k] for k in ("channels", "image_size", "ngf")}}
    model = build_model(spec)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def train_step(case: dict, channels_last: bool, amp: bool = False) -> Callable[[], None]:
    """One DSM step over the paper's 10 geometric levels with Adam (lr 1e-3), as ``ncsn.train``."""
    torch.manual_seed(0)
    model = make_model(case, channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    sigmas = make_sigmas({})
    x = torch.rand(case["train_batch"], case["channels"], case["image_size"], case["image_size"])
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    generator = torch.Generator().manual_seed(0)

    def score(inputs: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            return model(inputs, levels).float()

    def step() -> None:
        loss = dsm_loss(score, x, sigmas, generator=generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def langevin_step(case: dict, channels_last: bool) -> Callable[[], None]:
    """One annealed-Langevin step (Alg. 1 inner loop) at a middle noise level."""
    torch.manual_seed(0)
    model = make_model(case, channels_last).eval()
    x = torch.rand(case["sample_batch"], case["channels"], case["image_size"], case["image_size"])
    generator = torch.Generator().manual_seed(0)
    return lambda: langevin(model, x, STEP_LR, 1, generator=generator, level=5)


def row(case: str, metric: str, value: float, unit: str, note: str = "") -> dict:
    return {"benchmark": "core", "case": case, "metric": metric, "value": value, "unit": unit, "note": note}


def run() -> list[dict]:
    note = f"cpu x{torch.get_num_threads()} threads; provisional when measured on a shared CPU"
    rows = []
    for name, case in CASES.items():
        timed = {"train_step": train_step, "langevin_step": langevin_step}
        for what, make in timed.items():
            official = case["official"][what]
            if official is not None:
                rows.append(row(name, f"{what}_s", official, "s", "official ermongroup/ncsn code, 2-core machine (reference)"))
            best = None
            for variant, channels_last in VARIANTS.items():
                value = seconds(make(case, channels_last), case["reps"])
                rows.append(row(f"{name} {variant}", f"{what}_s", value, "s", note))
                best = value if best is None else min(best, value)
            if official is not None:
                rows.append(row(name, f"{what}_speedup_vs_official", official / best, "x", "best variant; " + note))
        if name in AMP_CASES:
            value = seconds(train_step(case, False, amp=True), 1)
            rows.append(row(f"{name} bf16 autocast", "train_step_s", value, "s", note))
    return rows
