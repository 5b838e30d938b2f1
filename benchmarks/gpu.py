"""GPU check: what the paper config's stages cost on this GPU, in under 8 minutes.

    python -m benchmarks gpu                    # on a CUDA machine (make gpu-check)
    python -m benchmarks gpu --device cpu --tiny --out /tmp/gpu.json   # dry run of the script

Writes ``benchmarks/results/gpu.json``: training it/s of CondRefineNet ngf 128 at the paper's
CIFAR-10 shape (batch 128) in fp32, TF32 and bf16 autocast, each with and without channels_last,
and with torch.compile while the time budget allows; sampling seconds per 1000 CIFAR-10 samples
(a few steps of the annealed-Langevin loop at batch 1000, times the paper's 1000 steps) in fp32,
TF32 and bf16 autocast, with and without channels_last, and compiled with CUDA graphs
(torch.compile mode reduce-overhead) while the budget allows, each with how far the scores
move the iterate in a 20-step chain compared with fp32; peak GPU memory of each case; how far
bf16 scores are from fp32 ones; and a paper smoke run on CUDA when the project has one
(``make paper-smoke``). ``python -m ncsn estimate`` reads the result (memory, tensor-core speed). Weights are random: speed and memory do not depend on them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BUDGET_S = 420  # compile cases and the smoke run start only while under this (the whole check < 8 min)
PAPER_STEPS = 1000  # L x T = 10 x 100 score evaluations per sample


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks gpu", description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu only with --tiny (a dry run)")
    parser.add_argument(
        "--tiny", action="store_true", help="tiny network and batches: checks the script, measures nothing useful"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "gpu.json", help="result file")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds after which optional cases are skipped")
    args = parser.parse_args(argv)
    if args.device == "cpu" and not args.tiny:
        parser.error("--device cpu needs --tiny: the paper-shape cases take hours on a CPU")
    return args


def _precision(name: str) -> dict[str, Any]:
    """Set torch's TF32 switches for ``name`` (fp32, tf32, bf16); returns the trainer's amp flag."""
    tf32 = name == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    return {"amp": name == "bf16"}


def _peak_reset(device: str) -> None:
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_mib(device: str) -> float | None:
    return round(torch.cuda.max_memory_allocated() / 2**20, 1) if device == "cuda" else None


def training_cases(device: str, tiny: bool, deadline: float) -> list[dict[str, Any]]:
    from benchmarks.bench_train import iterations_per_second

    ngf, batch, steps = (4, 2, 1) if tiny else (128, 128, 20)
    rows = []
    for compile_ in (False, True):
        for precision in ("fp32", "tf32", "bf16"):
            for channels_last in (False, True):
                case = {"precision": precision, "channels_last": channels_last, "compile": compile_}
                if compile_ and (tiny or time.monotonic() > deadline or (precision == "fp32" or not channels_last)):
                    continue  # compile: only the two fast modes with channels_last, budget allowing
                _peak_reset(device)
                started = time.monotonic()
                speed = iterations_per_second(
                    (32, 32, 3), ngf, batch, device, steps=steps, warmup=5 if compile_ else 2,
                    channels_last=channels_last, compile=compile_, **_precision(precision),
                )  # fmt: skip
                rows.append(
                    {
                        **case,
                        "batch": batch,
                        "ngf": ngf,
                        "it_per_s": speed,
                        "peak_mib": _peak_mib(device),
                        "seconds": round(time.monotonic() - started, 1),
                    }
                )
    _precision("fp32")
    return rows


def _model(device: str, ngf: int) -> torch.nn.Module:
    from ncsn.models import build_model

    torch.manual_seed(0)
    return (
        build_model({"arch": "refinenet", "ngf": ngf, "channels": 3, "image_size": 32, "num_classes": 10})
        .to(device)
        .eval()
    )


def _langevin_loop(model, x: torch.Tensor, levels: torch.Tensor, steps: int, step_size: float, noise: torch.Tensor):
    """``steps`` annealed-Langevin updates at one level with fixed noise (the sampler's inner loop,
    fixed shapes: what compile/CUDA graphs capture); returns the iterate."""
    for _ in range(steps):
        x = x + step_size / 2 * model(x, levels).float() + step_size**0.5 * noise
    return x


def sampling_cases(device: str, tiny: bool, deadline: float) -> list[dict[str, Any]]:
    """Seconds per 1000 samples of the sampler's inner loop with each fast path torch offers it (TF32,
    bf16 autocast, channels_last, torch.compile with CUDA graphs), and how far each one's iterate
    after a short chain is from fp32's (relative L2 error, same start and noise)."""
    from ncsn.device import autocast, to_channels_last

    ngf, batch, steps, chain = (4, 8, 2, 3) if tiny else (128, 1000, 5, 20)
    base = _model(device, ngf)
    generator = torch.Generator(device=device).manual_seed(0)
    x0 = torch.rand(batch, 3, 32, 32, device=device, generator=generator)
    noise = torch.randn(batch, 3, 32, 32, device=device, generator=generator)
    levels = torch.zeros(batch, dtype=torch.long, device=device)
    step = 0.2  # Alg. 1's alpha at the first level (eps 2e-5 x sigma_1^2 / sigma_L^2): the iterate moves
    rows, reference = [], None
    for compile_ in (False, True):
        for precision in ("fp32", "tf32", "bf16"):
            for channels_last in (False, True):
                if compile_ and (tiny or device != "cuda" or time.monotonic() > deadline or precision == "fp32"):
                    continue  # compile (mode reduce-overhead: CUDA graphs) only for the fast modes, budget allowing
                amp = _precision(precision)["amp"]
                model = to_channels_last(base, channels_last)
                if compile_:
                    model = torch.compile(model, mode="reduce-overhead")
                x = to_channels_last(x0, channels_last)
                _peak_reset(device)
                with torch.inference_mode(), autocast(torch.device(device), amp):
                    final = _langevin_loop(model, x, levels, chain, step, noise)  # also warms up and compiles
                    _sync(device)
                    started = time.perf_counter()
                    _langevin_loop(model, x, levels, steps, step, noise)
                    _sync(device)
                per_step = (time.perf_counter() - started) / steps
                # what the scores moved the iterate (the same noise is added in every case)
                moved = final.float().contiguous() - x0 - chain * step**0.5 * noise
                if reference is None:
                    reference = moved
                rows.append(
                    {
                        "precision": precision,
                        "channels_last": channels_last,
                        "compile": compile_,
                        "batch": batch,
                        "ngf": ngf,
                        "seconds_per_1000_samples": per_step * PAPER_STEPS * 1000 / batch,
                        "peak_mib": _peak_mib(device),
                        "chain_steps": chain,
                        "relative_l2_error_vs_fp32": float((moved - reference).norm() / reference.norm()),
                    }
                )
    _precision("fp32")
    return rows


def bf16_agreement(device: str, tiny: bool) -> dict[str, float]:
    """Relative L2 error and cosine of bf16-autocast scores against fp32 ones, on the same inputs and level mix."""
    model = _model(device, 4 if tiny else 128)
    generator = torch.Generator(device=device).manual_seed(0)
    x = torch.rand(64, 3, 32, 32, device=device, generator=generator)
    levels = torch.arange(64, device=device) % 10
    _precision("fp32")
    with torch.inference_mode():
        exact = model(x, levels).double()
        with torch.autocast(device, dtype=torch.bfloat16):
            low = model(x, levels).double()
    error = float((low - exact).norm() / exact.norm())
    cosine = float(torch.nn.functional.cosine_similarity(low.flatten(1), exact.flatten(1)).min())
    return {"relative_l2_error": error, "min_cosine_per_sample": cosine}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def paper_smoke(deadline: float) -> dict[str, Any]:
    """``make paper-smoke`` with the device set to CUDA, when the project has it and time is left."""
    makefile = (REPO / "Makefile").read_text()
    if "paper-smoke:" not in makefile or not (REPO / "config" / "paper_smoke.yaml").is_file():
        return {"status": "skipped", "note": "no `make paper-smoke` / config/paper_smoke.yaml in this checkout"}
    left = deadline + 60 - time.monotonic()
    if left < 60:
        return {"status": "skipped", "note": "time budget spent by the speed cases"}
    started = time.monotonic()
    try:
        done = subprocess.run(
            ["make", "paper-smoke", "SMOKE_DEVICE=cuda"], cwd=REPO, capture_output=True, text=True, timeout=left
        )
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "seconds": round(time.monotonic() - started, 1)}
    return {
        "status": "ok" if done.returncode == 0 else f"failed (exit {done.returncode})",
        "seconds": round(time.monotonic() - started, 1),
        "tail": done.stdout[-2000:] + done.stderr[-2000:],
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            f"gpu check: torch {torch.__version__} sees no CUDA GPU (CUDA build {torch.version.cuda}); run it on a GPU machine "
            "with a CUDA build of torch, or try the script with `python -m benchmarks gpu --device cpu --tiny --out /tmp/gpu.json`",
            file=sys.stderr,
        )
        return 2
    started = time.monotonic()
    deadline = started + args.budget
    torch.backends.cudnn.benchmark = args.device == "cuda"
    result = {
        "machine": {
            "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "tiny": args.tiny,
        },
        "reference": {"re_report_v100_train_it_per_s": 1.73, "re_report_v100_seconds_per_1000_samples": 1398},
        "train": training_cases(args.device, args.tiny, deadline),
        "sampling": sampling_cases(args.device, args.tiny, deadline),
        "bf16_vs_fp32_scores": bf16_agreement(args.device, args.tiny),
        "paper_smoke": {"status": "skipped", "note": "--tiny"} if args.tiny else paper_smoke(deadline),
    }
    result["seconds"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for row in result["train"]:
        print(
            f"train  {row['precision']:5s} channels_last={row['channels_last']!s:5s} compile={row['compile']!s:5s} {row['it_per_s']:8.3f} it/s  peak {row['peak_mib']} MiB"
        )
    for row in result["sampling"]:
        print(
            f"sample {row['precision']:5s} channels_last={row['channels_last']!s:5s} compile={row['compile']!s:5s} "
            f"{row['seconds_per_1000_samples']:10.1f} s per 1000 samples  peak {row['peak_mib']} MiB  "
            f"vs fp32 {row['relative_l2_error_vs_fp32']:.2e}"
        )
    print(f"bf16 vs fp32 scores: {result['bf16_vs_fp32_scores']}")
    print(f"paper smoke: {result['paper_smoke']['status']}; wrote {args.out} in {result['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
