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
    """A workflow config as the Snakefile plans it (checked, filled, one run per seed)."""
    import yaml

    from ncsn.errors import NcsnError
    from ncsn.seeds import plan_config

    path = Path(path)
    if not path.is_file():
        raise NcsnError(f"config file {path} does not exist")
    return plan_config(yaml.safe_load(path.read_text()) or {})


def run(args: argparse.Namespace) -> int:
    from ncsn.estimate import estimate, format_estimate

    config = load_config(args.configfile)
    result = estimate(config, args.gpu, args.precision, Path(args.data_root))
    print(f"Estimate for {args.configfile} on one {args.gpu.upper()} ({result.precision}):\n")
    print(format_estimate(result))
    print("\n" + format_runtimes(config, Path(args.data_root)))
    return 0


def format_runtimes(config: dict, data_root: Path) -> str:
    """The runtime each submitted rule's jobs ask a cluster for, from the config's `cluster` block (the
    workflow's own figures: workflow/rules/cluster.smk), and the length of the longest training's chain."""
    from ncsn.estimate import FIXED_MINUTES, estimate, runtime_minutes, train_submissions

    cluster = config["cluster"]
    cost = estimate(config, cluster["gpu"], data_root=data_root, memory=False)
    rules = sorted({s.rule for s in cost.stages if s.rule != "prepare"} | FIXED_MINUTES.keys())
    lines = [
        f"Runtime each cluster job asks for (cluster block: gpu {cluster['gpu']}, safety {cluster['safety']:g}, "
        f"max_runtime {cluster['max_runtime']} min; the longest job of each rule):"
    ]
    lines += [f"  {rule:<20} {runtime_minutes(config, rule, None, cost):>6} min" for rule in rules]
    lines.append(f"  train runs as up to {train_submissions(config, cost)} submission(s) of max_runtime")
    return "\n".join(lines)
