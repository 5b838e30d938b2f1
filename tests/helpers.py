"""Helpers several test modules share: the tiny workflow config and its runs, training settings and
checkpoint comparisons, model perturbations. Tests import them from here, never from another test module
(tests/test_imports.py holds them to it)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from ncsn.models.normalization import CondInstanceNormPlus

ROOT = Path(__file__).resolve().parents[1]
# Whether the running test is marked slow (end-to-end), for helpers that start real workflow runs (conftest sets it).
RUNNING = {"slow": False}

# ------------------------------------------------------------------ the workflow

# Single-threaded jobs: 2 at a time on 2 cores, no thread oversubscription.
ONE_THREAD = [f"{rule}=1" for rule in ("train", "train_extractor", "ref_stats", "score", "sample", "evaluate")]

TINY = {
    "device": "cpu",
    "datasets": {"digits": {"source": "digits"}},
    "extractors": {"digits": {"kind": "digits", "epochs": 3, "min_accuracy": 0.5}},
    "experiments": {
        "tiny": {
            "dataset": "digits",
            "extractor": "digits",
            "model": {"ngf": 4},
            "schedule": {"num_levels": 3},
            "training": {"iterations": 20, "snapshot_freq": 10, "batch_size": 32},
            "sampling": {"n_steps_each": 3, "batch_size": 20},
            "selection": {"num_samples": 20},
            "evaluation": {"num_samples": 40, "shards": 2, "is_splits": 2},
        }
    },
    "report": {"sample_timing": {"counts": [1, 3]}},  # [Re] Table 1's timed sampling jobs, tiny
}


def write_config(path: Path, config: dict) -> Path:
    """``config`` as a YAML config file at ``path``."""
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake_command(workdir: Path) -> list[str]:
    """``python -m snakemake`` on the project's Snakefile, working in ``workdir``."""
    return [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir)]


def snakemake(workdir: Path, configfile: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the project's Snakefile in ``workdir``; stdout and stderr together in ``.stdout``.

    A run that completes jobs is an end-to-end test: only a test marked ``slow`` may make one,
    so that ``make test-fast`` (``-m "not slow"``) stays fast.
    """
    cmd = [*snakemake_command(workdir), "--configfile", str(configfile), *args]
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if re.search(r"\d+ of \d+ steps \(.*\) done", result.stdout) and not RUNNING["slow"]:
        raise AssertionError("this test ran workflow jobs: mark it @pytest.mark.slow (make test-fast leaves it out)")
    return result


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table Snakemake prints before running (or planning) jobs."""
    table = output.split("Job stats:", 1)
    if len(table) == 1:
        return {}
    counts = {}
    for line in table[1].splitlines()[3:]:
        match = re.fullmatch(r"(\S+)\s+(\d+)", line.strip())
        if not match or match[1] == "total":
            break
        counts[match[1]] = int(match[2])
    return counts


def plan(workdir: Path, configfile: Path, *targets: str) -> dict[str, int]:
    """Rule -> jobs of a dry run of ``targets`` (all when none)."""
    result = snakemake(workdir, configfile, "-n", "--quiet", "rules", "--", *targets)
    assert result.returncode == 0, result.stdout[-4000:]
    return job_counts(result.stdout)


# ------------------------------------------------------------------ training and checkpoints


def train(data, state_dir, out_dir, settings: dict, **options) -> dict:
    """``ncsn.train.train`` of settings written by hand, checked and filled as ``ncsn train`` receives them."""
    from ncsn.settings import check_envelope
    from ncsn.train import train as train_run

    return train_run(data, state_dir, out_dir, check_envelope("train", settings), **options)


def prepare(name: str, settings: dict, out_dir) -> dict:
    """``ncsn.data.prepare`` of a data set block written by hand, checked and filled as ``ncsn prepare`` receives it."""
    from ncsn.data import prepare as prepare_data
    from ncsn.settings import check_envelope

    return prepare_data(name, check_envelope("prepare", settings, f"datasets.{name}"), out_dir)


def classifier_block(settings: dict) -> dict:
    """A classifier extractor block written by hand, filled as ``ncsn train-extractor`` receives it."""
    from ncsn.settings import check_block

    return check_block("extractor", {"kind": "classifier", **settings})


def tiny(iterations: int, **training) -> dict:
    """Train settings of a small RefineNet on CPU: ``iterations`` steps, a snapshot every 2 (``training`` overrides)."""
    training = {"iterations": iterations, "batch_size": 16, "snapshot_freq": 2, "log_every": 2, **training}
    return {"model": {"arch": "refinenet", "ngf": 8}, "training": training, "device": "cpu", "seed": 3}


def assert_identical(a, b, where: str = "checkpoint") -> None:
    """Every tensor bit-identical, every other value equal (NaN == NaN), recursively."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b) or (
            a.is_floating_point() and torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num())
        ), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_identical(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), where
    else:
        assert a == b, where


# the checkpoint entries a resumed run must reproduce bit for bit
RESUMABLE = ("iteration", "model", "optimizer", "ema", "rng", "window", "sigmas", "model_spec", "schedule_spec")


# ------------------------------------------------------------------ models


def randomise_norms(model: torch.nn.Module, seed: int = 0) -> None:
    """Spread gamma/alpha/beta per level so that conditioning visibly matters."""
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, CondInstanceNormPlus):
            with torch.no_grad():
                module.embed.weight.copy_(1 + 0.5 * torch.randn(module.embed.weight.shape, generator=gen))
