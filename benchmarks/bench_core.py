"""Core speed on CPU: one DSM training step (forward + backward + Adam) and one annealed-Langevin
step (score evaluation + update) of CondRefineNet, at CIFAR-10 shape and the digits default shape,
set beside the official implementation's times on a 2-core machine of this project's kind and
beside an official-style implementation timed in the same run.

The network is the official one (same parameters, same outputs); the gain comes from the
implementation: a fused CondInstanceNorm++ (statistics once, one multiply-add instead of the
instance norm + five full-size ops), a 1x1 form of dilated convolutions that read only padding,
inference mode for sampling, channels_last memory format (faster convolutions and 5x5 average
pooling on oneDNN).

Side by side: ``tests/reference/official_refinenet.py`` re-implements the official
``CondRefineNetDilated`` in the official code's unfused style (tests/test_official_parity.py
checks it gives our outputs with our weights). It gets the same weights, Adam settings and DSM
loss (torch's default Adam, as the official code; ours is the fused Adam of ``ncsn.train``), the
same Langevin step, and is timed interleaved with our variants (one repetition of each in turn,
the order rotated every repetition), so ``*_speedup_vs_official_style`` (its median time over our
best variant's) is a ratio measured under the same machine load in one run.

Bounds: ``*_gflop`` rows count the matmul/convolution FLOPs of one step with
``torch.utils.flop_counter.FlopCounterMode`` (forward and backward; elementwise ops, norms,
pooling and Adam are not counted), ours and the official-style module's; ``gemm_fp32_gflops``
is the machine's measured fp32 throughput on a square matmul with the threads in use;
``*_min_s`` = our FLOPs / that throughput, a floor no implementation of this network reaches
without doing fewer FLOPs or beating the GEMM rate; ``*_official_implied_gflops`` = the
official-style FLOPs / the issue's reference time, the throughput the official code reached.

Each timed value is the median of the timed repetitions after one warm-up run. bf16 autocast is
a switch (``AMP_CASES``): this CPU has no native bf16 (torch reports AVX2), where it was measured
several times slower. torch.compile is not used: compiling CondRefineNet took minutes here, more
than it saves in a benchmark-sized run.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from ncsn.losses import dsm_loss
from ncsn.models import build_model
from ncsn.sampling import langevin
from ncsn.schedules import make_sigmas
from ncsn.settings import defaults
from ncsn.train import make_adam

REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "reference" / "official_refinenet.py"


def official_reference() -> ModuleType:
    """The official-style network, which lives beside the tests that check our network against it."""
    if "official_refinenet" not in sys.modules:
        spec = importlib.util.spec_from_file_location("official_refinenet", REFERENCE)
        sys.modules[spec.name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["official_refinenet"]


# name -> network shape, batches, repetitions, and the official code's seconds per step on a
# 2-core machine (issue 3; None where no reference was measured)
CASES = {
    "cifar10 3x32x32 ngf128": {
        "channels": 3,
        "image_size": 32,
        "ngf": 128,
        "train_batch": 16,
        "sample_batch": 64,
        "reps": 2,
        "official": {"train_step": 6.0, "langevin_step": 8.3},
    },
    "digits 1x8x8 ngf32": {
        "channels": 1,
        "image_size": 8,
        "ngf": 32,
        "train_batch": 64,
        "sample_batch": 64,
        "reps": 10,
        "official": {"train_step": 0.21, "langevin_step": None},
    },
}
VARIANTS = {"fp32": False, "fp32 channels_last": True}  # name -> channels_last
AMP_CASES = ("digits 1x8x8 ngf32",)  # bf16 autocast train step timed here only (slow on AVX2 CPUs)
STEP_LR = 2e-5  # paper's eps; the step cost does not depend on it
OFFICIAL_STYLE = "official-style fp32"  # variant name of tests/reference/official_refinenet.py
GEMM_SIZE = 2048  # square fp32 matmul measuring the machine's GEMM throughput


def seconds(step: Callable[[], None], reps: int, warmup: int = 1) -> float:
    """Median wall time of ``step`` over ``reps`` runs after ``warmup`` runs."""
    return seconds_side_by_side({"step": step}, reps, warmup)["step"]


def seconds_side_by_side(steps: dict[str, Callable[[], None]], reps: int, warmup: int = 1) -> dict[str, float]:
    """Median wall time of each step, timed interleaved: after ``warmup`` runs of each, ``reps``
    rounds of one run of each, the order rotated every round (so a change in machine load hits
    every variant alike)."""
    names = list(steps)
    for name in names:
        for _ in range(warmup):
            steps[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(reps):
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            started = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def gemm_gflops(n: int = GEMM_SIZE, reps: int = 5) -> float:
    """Measured fp32 throughput (GFLOP/s) of an n x n matmul with the threads in use (median)."""
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
    out = torch.empty(n, n)
    return 2 * n**3 / seconds(lambda: torch.mm(a, b, out=out), reps) / 1e9


def count_flops(step: Callable[[], None]) -> int:
    """Matmul/convolution FLOPs of one run of ``step`` (forward and backward)."""
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def make_model(case: dict, channels_last: bool, official: bool = False) -> torch.nn.Module:
    """Our CondRefineNet (seeded), or with ``official`` the official-style module holding its weights."""
    spec = {"arch": "refinenet", "num_classes": 10, **{k: case[k] for k in ("channels", "image_size", "ngf")}}
    model = build_model(spec)
    if official:
        model = official_reference().from_ours(model)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def train_step(case: dict, channels_last: bool, amp: bool = False, official: bool = False) -> Callable[[], None]:
    """One DSM step over the paper's 10 geometric levels with Adam (lr 1e-3), as ``ncsn.train`` (or the official code)."""
    torch.manual_seed(0)
    model = make_model(case, channels_last, official)
    if official:  # the official code's optimiser: torch's default Adam (a per-parameter loop on CPU)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    else:  # ours, as ncsn.train builds it (fused where torch has the kernel)
        optimizer = make_adam(model, {**defaults("training"), "lr": 1e-3}, torch.device("cpu"))
    sigmas = make_sigmas(defaults("schedule"))
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


def langevin_step(case: dict, channels_last: bool, official: bool = False) -> Callable[[], None]:
    """One annealed-Langevin step (Alg. 1 inner loop) at a middle noise level."""
    torch.manual_seed(0)
    model = make_model(case, channels_last, official).eval()
    x = torch.rand(case["sample_batch"], case["channels"], case["image_size"], case["image_size"])
    generator = torch.Generator().manual_seed(0)
    return lambda: langevin(model, x, STEP_LR, 1, generator=generator, level=5)


def row(case: str, metric: str, value: float, unit: str, note: str = "") -> dict:
    return {"benchmark": "core", "case": case, "metric": metric, "value": value, "unit": unit, "note": note}


def run(only: list[str] | None = None, reps: int | None = None) -> list[dict]:
    """All rows; ``only`` (case names) and ``reps`` (override) are for quick smoke runs."""
    threads = torch.get_num_threads()
    note = f"cpu x{threads} threads; provisional when measured on a shared CPU"
    gemm = gemm_gflops()
    rows = [
        row("machine", "gemm_fp32_gflops", gemm, "GFLOP/s", f"{GEMM_SIZE}x{GEMM_SIZE} fp32 matmul, median of 5; {note}")
    ]
    flop_note = "matmul/conv FLOPs of one step (FlopCounterMode; forward + backward for training)"
    for name, case in CASES.items():
        if only is not None and name not in only:
            continue
        case_reps = case["reps"] if reps is None else reps
        timed = {"train_step": train_step, "langevin_step": langevin_step}
        for what, make in timed.items():
            official = case["official"][what]
            if official is not None:
                rows.append(
                    row(name, f"{what}_s", official, "s", "official ermongroup/ncsn code, 2-core machine (reference)")
                )
            flops = count_flops(make(case, False))
            flops_official_style = count_flops(make(case, False, official=True))
            rows.append(row(name, f"{what}_gflop", flops / 1e9, "GFLOP", flop_note + "; ours"))
            rows.append(
                row(
                    name,
                    f"{what}_gflop_official_style",
                    flops_official_style / 1e9,
                    "GFLOP",
                    flop_note + "; official-style module",
                )
            )
            rows.append(
                row(
                    name,
                    f"{what}_min_s",
                    flops / 1e9 / gemm,
                    "s",
                    "our FLOPs / measured fp32 GEMM throughput (lower bound); " + note,
                )
            )
            if official is not None:
                rows.append(
                    row(
                        name,
                        f"{what}_official_implied_gflops",
                        flops_official_style / 1e9 / official,
                        "GFLOP/s",
                        "official-style FLOPs / the official code's reference time",
                    )
                )
            steps = {variant: make(case, channels_last) for variant, channels_last in VARIANTS.items()}
            steps[OFFICIAL_STYLE] = make(case, False, official=True)
            values = seconds_side_by_side(steps, case_reps)
            for variant, value in values.items():
                rows.append(row(f"{name} {variant}", f"{what}_s", value, "s", note + "; variants timed interleaved"))
            best = min(values[variant] for variant in VARIANTS)
            if official is not None:
                rows.append(row(name, f"{what}_speedup_vs_official", official / best, "x", "best variant; " + note))
            rows.append(
                row(
                    name,
                    f"{what}_speedup_vs_official_style",
                    values[OFFICIAL_STYLE] / best,
                    "x",
                    "official-style time / our best variant's, interleaved in this run; " + note,
                )
            )
        if name in AMP_CASES:
            value = seconds(train_step(case, False, amp=True), 1)
            rows.append(row(f"{name} bf16 autocast", "train_step_s", value, "s", note))
    return rows
