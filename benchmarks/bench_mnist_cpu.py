"""The real-MNIST CPU config's choice of width: training step and sampler step at 28x28x1 on this CPU.

CondRefineNet at ngf 8, 12 and 16: a training step (the ``train`` command's ``Trainer``, batch
128 and 64) and a sampler step (one forward pass of 100 images under ``no_grad``, as Langevin
makes 1,000 of them per batch), each in the default memory format and in channels_last, on the
threads torch uses here (``OMP_NUM_THREADS``; the MNIST config trains on 2). The rows are what
``config/mnist_cpu.yaml``'s comments quote; rerun on another machine before resizing it.
"""

from __future__ import annotations

import time

import torch

from benchmarks.bench_train import iterations_per_second
from ncsn.models import build_model

SHAPE = (28, 28, 1)


def forward_seconds(ngf: int, batch: int, channels_last: bool, repeats: int = 6) -> float:
    """Median seconds of one no-grad forward pass of CondRefineNet(ngf) on ``batch`` 28x28x1 images."""
    torch.manual_seed(0)
    model = build_model({"arch": "refinenet", "ngf": ngf, "image_size": 28, "channels": 1, "num_classes": 10}).eval()
    x = torch.rand(batch, 1, 28, 28)
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    levels = torch.zeros(batch, dtype=torch.long)
    times = []
    with torch.no_grad():
        model(x, levels)
        for _ in range(repeats):
            started = time.perf_counter()
            model(x, levels)
            times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def run() -> list[dict]:
    threads = torch.get_num_threads()
    rows = []
    for ngf in (8, 12, 16):
        for channels_last in (False, True):
            fmt = "channels_last" if channels_last else "contiguous"
            for batch in (128, 64):
                rate = iterations_per_second(SHAPE, ngf, batch, "cpu", steps=4, warmup=1, channels_last=channels_last)
                rows.append(
                    {
                        "benchmark": "mnist_cpu",
                        "case": f"train ngf{ngf} b{batch} {fmt}",
                        "metric": "seconds_per_step",
                        "value": 1 / rate,
                        "unit": "s",
                        "note": f"cpu x{threads} threads",
                    }
                )
            rows.append(
                {
                    "benchmark": "mnist_cpu",
                    "case": f"sampler step ngf{ngf} b100 {fmt}",
                    "metric": "seconds_per_forward",
                    "value": forward_seconds(ngf, 100, channels_last),
                    "unit": "s",
                    "note": f"cpu x{threads} threads",
                }
            )
    return rows
