"""Sampling speed of annealed Langevin, and memory of the streamed FID/IS evaluation.

- Samples per second of ``ncsn.sampling.annealed_langevin`` with CondRefineNet in the digits
  default shape (ngf 32, 1x8x8) and the CIFAR-10 shape (ngf 128, 3x32x32). Every Langevin step
  costs the same (one network evaluation), so a few timed steps are extrapolated to the paper's
  full schedule (L=10 levels x T=100 steps = 1000 steps) and set beside the [Re] report's
  1398 s per 1000 CIFAR-10 samples on a V100 (Table 1).
- Peak resident memory of evaluating 10k and 50k digits samples (each in a fresh subprocess):
  growth beyond the uint8 sample array must not depend on the number of samples.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

FULL_STEPS = 1000  # L=10 levels x T=100 steps (paper Sec. 5)
RE_CIFAR_S_PER_1000 = 1398.0  # [Re] Table 1, V100
CASES = {
    # name: (model spec, batch, timed steps)
    "digits ngf32 1x8x8": ({"arch": "refinenet", "ngf": 32, "channels": 1, "image_size": 8, "num_classes": 10}, 100, 3),
    "cifar ngf128 3x32x32": (
        {"arch": "refinenet", "ngf": 128, "channels": 3, "image_size": 32, "num_classes": 10},
        8,
        2,
    ),
}
EVAL_SIZES = (10_000, 50_000)


def time_sampling(spec: dict, batch: int, steps: int, device: torch.device) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) per Langevin step for a batch of ``batch``, after one warm-up step.

    CPU time is the contention-proof figure on a shared machine (on the CPU the benchmark runs
    torch on one thread, so it equals the wall time of an idle core).
    """
    from ncsn.models import build_model, image_shape
    from ncsn.sampling import annealed_langevin, uniform_init
    from ncsn.schedules import make_sigmas

    model = build_model(spec).to(device).eval()
    sigmas = make_sigmas({"kind": "geometric", "sigma_begin": 1.0, "sigma_end": 0.01, "num_levels": 10}).to(device)
    generator = torch.Generator(device=device).manual_seed(0)
    x = uniform_init((batch, *image_shape(spec)), generator=generator, device=device)
    annealed_langevin(model, x, sigmas[:1], n_steps_each=1, eps=2e-5, generator=generator)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter(), time.process_time()
    annealed_langevin(model, x, sigmas[:steps], n_steps_each=1, eps=2e-5, generator=generator)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps


def evaluation_memory(num_samples: int) -> dict:
    """Run in a fresh process: peak RSS growth of streaming ``num_samples`` digits through the metrics."""
    from ncsn.data.digits import load
    from ncsn.metrics.classifier import ClassifierNet, save_classifier, train_settings
    from ncsn.metrics.extractors import build_extractor
    from ncsn.metrics.fidelity import image_statistics
    from ncsn.settings import check_block

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        # Memory does not depend on the weights: an untrained network avoids a training run here.
        path = Path(tmp) / "model.pt"
        opts = train_settings(check_block("extractor", {"kind": "classifier"}))
        arch = {key: opts[key] for key in ("feature_dim", "num_classes", "dropout")}
        save_classifier(
            path, ClassifierNet((8, 8, 1), **arch), {"test_accuracy": 0.0, "test_recognisable": 0.0, "settings": arch}
        )
        extractor = build_extractor({"kind": "classifier"}, path, torch.device("cpu"))
        real = load(check_block("dataset", {"source": "digits"})).train[0]
        samples = np.resize(real, (num_samples, *real.shape[1:]))  # real digits, repeated
        image_statistics(samples[:2000], extractor)  # warm-up: allocator pools, lazy imports
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        began = time.perf_counter()
        stats = image_statistics(samples, extractor)
        seconds = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "num_samples": num_samples,
        "sample_array_mib": samples.nbytes / 2**20,
        "peak_rss_mib": after / 1024,
        "growth_mib": (after - before) / 1024,
        "images_per_s": num_samples / seconds,
        "is_mean": stats.inception_score()["mean"],
    }


def run() -> list[dict]:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    rows = []
    try:
        for case, (spec, batch, steps) in CASES.items():
            wall, cpu = time_sampling(spec, batch, steps, device)
            s_per_1000 = wall / batch * 1000 * FULL_STEPS
            common = {
                "benchmark": "sampling",
                "case": f"{case} {device.type} batch {batch}",
                "timed_steps": steps,
                "batch": batch,
            }
            rows.append(
                {**common, "metric": "samples_per_s (1000 steps)", "value": 1000.0 / s_per_1000, "unit": "samples/s"}
            )
            rows.append({**common, "metric": "s_per_1000_samples", "value": s_per_1000, "unit": "s"})
            if device.type == "cpu":
                rows.append(
                    {
                        **common,
                        "metric": "cpu_s_per_1000_samples",
                        "value": cpu / batch * 1000 * FULL_STEPS,
                        "unit": "s",
                    }
                )
            if case.startswith("cifar"):
                rows.append(
                    {
                        **common,
                        "metric": "ratio_to_Re_V100_1398s",
                        "value": s_per_1000 / RE_CIFAR_S_PER_1000,
                        "unit": "x",
                    }
                )
    finally:
        torch.set_num_threads(threads)
    for num_samples in EVAL_SIZES:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_sampling", "--evaluation-memory", str(num_samples)],
            check=True,
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        case = f"evaluate {num_samples} digits samples (cpu)"
        for metric, unit in (
            ("peak_rss_mib", "MiB"),
            ("growth_mib", "MiB"),
            ("sample_array_mib", "MiB"),
            ("images_per_s", "images/s"),
        ):
            rows.append(
                {"benchmark": "sampling", "case": case, "metric": metric, "value": result[metric], "unit": unit}
            )
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--evaluation-memory":
        print(json.dumps(evaluation_memory(int(sys.argv[2]))))
    else:
        for row in run():
            print(row)
