"""Where torch runs: device choice, CPU thread count, bf16 autocast and memory-format helpers."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import ContextManager, TypeVar

import torch

from ncsn.errors import NcsnError

DEVICE_CHOICES = ("auto", "cpu", "cuda")
# Variables through which a scheduler gives a job GPUs (Slurm sets the first two, and CUDA_VISIBLE_DEVICES).
GPU_GRANT_VARIABLES = ("SLURM_STEP_GPUS", "SLURM_JOB_GPUS", "CUDA_VISIBLE_DEVICES")
# Set to 1 where a job is given GPUs that torch must not use (a test cluster's dummy GPUs, a deliberate CPU run).
CPU_FALLBACK_VARIABLE = "NCSN_ALLOW_CPU_FALLBACK"
# Oldest Linux NVIDIA driver for each major CUDA version of a torch build (NVIDIA's CUDA compatibility tables:
# a driver of the major version's first release runs every minor version of it).
MIN_DRIVER = {"11": "450.80.02", "12": "525.60.13", "13": "580.65.06"}

T = TypeVar("T", torch.Tensor, torch.nn.Module)


def select_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available else CPU (unless the job was given GPUs torch cannot see:
    :func:`check_no_unused_gpus`); ``cuda`` without a GPU is an error, not a silent fallback.

    ``auto``/``cuda`` on a machine with several visible GPUs reserve a free one for this process
    (:mod:`ncsn.gpus`), so parallel jobs of a workstation run on different cards; ``cuda:N`` is
    taken as given.
    """
    name = str(name).lower()
    if name not in DEVICE_CHOICES and not name.startswith("cuda:"):
        raise NcsnError(f"device must be one of {', '.join(DEVICE_CHOICES)} (or cuda:N), got {name!r}")
    if name == "auto" and not torch.cuda.is_available():
        check_no_unused_gpus()
        return torch.device("cpu")
    if name in ("auto", "cuda") and torch.cuda.is_available():
        index = _free_gpu()
        torch.cuda.set_device(index)  # code that says just "cuda" lands on the same card
        return torch.device("cuda", index)
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise NcsnError(
                f"device {name!r} was requested but torch sees no CUDA GPU "
                f"(torch {torch.__version__}, CUDA build {torch.version.cuda}); "
                "set device: cpu (or auto) in the config, or run on a machine with a GPU and a CUDA build of torch"
            )
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise NcsnError(f"device {name!r} does not exist: torch sees {torch.cuda.device_count()} GPU(s)")
        return device
    return torch.device("cpu")


def granted_gpus() -> str | None:
    """``NAME=value`` of the first variable saying this job was given GPUs, or None."""
    for variable in GPU_GRANT_VARIABLES:
        value = os.environ.get(variable, "").strip()
        if value and value not in ("-1", "NoDevFiles", "none"):
            return f"{variable}={value}"
    return None


def check_no_unused_gpus() -> None:
    """Stop ``device: auto`` from computing on the CPU in a job that was given GPUs torch cannot see (a driver
    older than the torch build needs, a CPU build of torch): an allocation burnt without a word otherwise."""
    granted = granted_gpus()
    if granted is None or os.environ.get(CPU_FALLBACK_VARIABLE) == "1":
        return
    cuda = torch.version.cuda
    if cuda is None:
        build = f"torch {torch.__version__} is a CPU-only build"
        fix = "install a CUDA build of torch (README.md, Install: the index of your CUDA version)"
    else:
        driver = MIN_DRIVER.get(cuda.split(".")[0], "a recent one")
        build = f"torch {torch.__version__} is built for CUDA {cuda}, which needs an NVIDIA driver {driver} or newer"
        fix = (
            "check the node's driver with nvidia-smi, and install the torch build of the CUDA version that driver "
            "supports (README.md, Install), or ask for nodes with a newer driver"
        )
    raise NcsnError(
        f"this job was given GPUs ({granted}) but torch sees none: {build}. Nothing was computed: {fix}. "
        f"To compute on the CPU anyway, set device: cpu, or {CPU_FALLBACK_VARIABLE}=1 in the job's environment"
    )


def _free_gpu() -> int:
    """Visible index of the GPU this job may use: 0 when it sees one GPU (a SLURM job given its own),
    else one reserved through the lock-file allocator, keyed by the cards' UUIDs (a workstation, or
    a SLURM allocation with several GPUs that a local Snakemake shares among its jobs)."""
    from ncsn import gpus

    count = torch.cuda.device_count()
    if count <= 1:
        return 0
    return gpus.acquire(
        gpus.device_ids(count), log=lambda message: print(f"ncsn: {message}", file=sys.stderr, flush=True)
    )


def available_cpus() -> int:
    """CPUs this process may use: ``OMP_NUM_THREADS`` or ``SLURM_CPUS_PER_TASK`` when set (the workflow
    sets the former to a rule's ``threads``), else the affinity mask, else ``os.cpu_count()``."""
    for variable in ("OMP_NUM_THREADS", "SLURM_CPUS_PER_TASK"):
        value = os.environ.get(variable, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def setup_threads(threads: int | None = None) -> int:
    """Use ``threads`` CPU threads for torch (all available CPUs when None); returns the count set."""
    count = available_cpus() if threads is None else int(threads)
    if count < 1:
        raise NcsnError(f"threads must be a positive integer, got {threads!r}")
    torch.set_num_threads(count)
    return count


def tune(device: torch.device) -> None:
    """On CUDA let cuDNN pick the fastest convolution algorithms (fixed shapes every step; CPU runs are unaffected)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def autocast(device: torch.device, enabled: bool) -> ContextManager:
    """bf16 autocast on ``device`` when ``enabled`` (CPU and CUDA both support bf16), else a no-op."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def to_channels_last(obj: T, enabled: bool) -> T:
    """Move a 4-D tensor or a module's parameters to channels_last memory format when ``enabled``."""
    if not enabled:
        return obj
    if isinstance(obj, torch.Tensor):
        return obj.contiguous(memory_format=torch.channels_last) if obj.dim() == 4 else obj
    return obj.to(memory_format=torch.channels_last)


def describe(device: torch.device) -> dict:
    """A JSON-able record of the device for run records and benchmarks."""
    info = {"type": device.type, "torch_threads": torch.get_num_threads()}
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        info["name"] = torch.cuda.get_device_name(index)
        info["cuda"] = torch.version.cuda
    return info
