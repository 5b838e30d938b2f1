"""The GPU check script (benchmarks/gpu.py): a clear refusal without CUDA, and a CPU dry run of every part."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def _check(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", "gpu", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the check would run for minutes")
def test_without_cuda_it_stops_at_once_and_says_what_to_do():
    done = _check()
    assert done.returncode == 2 and "sees no CUDA GPU" in done.stderr and "--device cpu --tiny" in done.stderr


def test_cpu_without_tiny_is_refused():
    done = _check("--device", "cpu")
    assert done.returncode == 2 and "--device cpu needs --tiny" in done.stderr


@pytest.mark.slow
def test_a_tiny_cpu_dry_run_fills_every_part_of_the_result(tmp_path):
    out = tmp_path / "gpu.json"
    done = _check("--device", "cpu", "--tiny", "--out", str(out))
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    cases = {(r["precision"], r["channels_last"], r["compile"]) for r in result["train"]}
    assert cases == {(p, cl, False) for p in ("fp32", "tf32", "bf16") for cl in (False, True)}
    assert all(r["it_per_s"] > 0 and r["batch"] == 2 for r in result["train"])
    cases = {(r["precision"], r["channels_last"], r["compile"]) for r in result["sampling"]}
    assert cases == {(p, cl, False) for p in ("fp32", "tf32", "bf16") for cl in (False, True)}
    assert all(r["seconds_per_1000_samples"] > 0 for r in result["sampling"])
    errors = {(r["precision"], r["channels_last"]): r["relative_l2_error_vs_fp32"] for r in result["sampling"]}
    assert errors[("fp32", False)] == 0 and errors[("fp32", True)] < 1e-5  # the same arithmetic, another layout
    assert 0 < errors[("bf16", False)] < 1  # tiny random weights: the figure that matters is the GPU run's
    agreement = result["bf16_vs_fp32_scores"]
    assert 0 < agreement["relative_l2_error"] < 0.1 and 0.99 < agreement["min_cosine_per_sample"] <= 1
    assert result["paper_smoke"]["status"] == "skipped" and result["machine"]["tiny"] is True
