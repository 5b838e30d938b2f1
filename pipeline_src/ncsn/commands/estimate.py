"""``python -m ncsn estimate``: GPU-hours and disk of a workflow config, per experiment and stage, before running it."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ncsn.estimate import GPU_PEAK_TFLOPS, PRECISIONS

    parser.add_argument("--configfile", required=True, help="workflow config (e.g. config/paper.yaml)")
    parser.add_argument("--gpu", default="a100", choices=sorted(GPU_PEAK_TFLOPS), help="GPU model (default a100)")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=None,
        help="default: bf16 when training.amp is on, else tf32 where the GPU has it (torch's default for convolutions), else fp32",
    )
    parser.add_argument(
        "--data-root", default="results/data", help="prepared data sets (their sizes win over the built-in table)"
    )


def load_config(path: str | Path) -> dict:
    """A workflow config checked and filled by ``ncsn.settings`` (the Snakefile's own check)."""
    import yaml

    from ncsn.errors import NcsnError
    from ncsn.settings import check_config

    path = Path(path)
    if not path.is_file():
        raise NcsnError(f"config file {path} does not exist")
    return check_config(yaml.safe_load(path.read_text()) or {})


def run(args: argparse.Namespace) -> int:
    from ncsn.estimate import estimate, format_estimate

    result = estimate(load_config(args.configfile), args.gpu, args.precision, Path(args.data_root))
    print(f"Estimate for {args.configfile} on one {args.gpu.upper()} ({result.precision}):\n")
    print(format_estimate(result))
    return 0
