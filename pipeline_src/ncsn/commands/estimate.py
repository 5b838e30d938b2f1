"""``python -m ncsn estimate``: GPU-hours, disk and memory of the jobs the workflow plans for a config, before running it."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ncsn.estimate import GPU_PEAK_TFLOPS, PRECISIONS

    parser.add_argument(
        "--configfile",
        required=True,
        nargs="+",
        help="workflow config files, merged as Snakemake merges them: later files override keys recursively "
        "(e.g. config/paper.yaml config/cluster.yaml)",
    )
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
    parser.add_argument(
        "--snakefile", default="Snakefile", help="the workflow whose plan is costed (default: Snakefile here)"
    )


def read_config(*paths: str | Path) -> dict:
    """Workflow config files (YAML) as written, merged the way ``snakemake --configfile A B`` merges
    them (``snakemake.utils.update_config``: a later file's keys override, mappings recursively)."""
    import yaml
    from snakemake.utils import update_config

    from ncsn.errors import NcsnError

    config: dict = {}
    for path in map(Path, paths):
        if not path.is_file():
            raise NcsnError(f"config file {path} does not exist")
        update_config(config, yaml.safe_load(path.read_text()) or {})
    return config


def load_config(*paths: str | Path) -> dict:
    """Workflow config files, merged (``read_config``), as the Snakefile plans them (checked, filled, one run per seed)."""
    from ncsn.seeds import workflow_config

    return workflow_config(read_config(*paths))


def run(args: argparse.Namespace) -> int:
    from ncsn.estimate import estimate, format_estimate, gpu_speed
    from ncsn.seeds import workflow_config
    from ncsn.workflow_plan import planned_jobs

    raw = read_config(*args.configfile)
    config = workflow_config(raw)
    gpu_speed(config, args.gpu, args.precision)  # an unknown card or precision stops here, before planning
    jobs = planned_jobs(raw, Path(args.snakefile))
    result = estimate(config, args.gpu, jobs, args.precision, Path(args.data_root))
    print(f"Estimate for {' + '.join(args.configfile)} on one {args.gpu.upper()} ({result.precision}):\n")
    print(format_estimate(result))
    print("\n" + format_runtimes(config, jobs, Path(args.data_root)))
    return 0


def format_runtimes(config: dict, jobs: list, data_root: Path) -> str:
    """The runtime each rule's longest job asks a cluster for, from the config's `cluster` block (the
    workflow's own figures: workflow/rules/cluster.smk), and the length of the longest training's chain."""
    from ncsn.estimate import JobClock, runtime_minutes, train_submissions

    cluster = config["cluster"]
    clock = JobClock(config, data_root)
    longest: dict[str, int] = {}
    for rule, wildcards, cost in clock.model.jobs(jobs):
        if cost is None or cost.flop or cost.minutes:
            minutes = runtime_minutes(config, rule, wildcards, clock)
            longest[rule] = max(minutes, longest.get(rule, 0))
    lines = [
        f"Runtime each cluster job asks for (cluster block: gpu {cluster['gpu']}, safety {cluster['safety']:g}, "
        f"max_runtime {cluster['max_runtime']} min; the longest job of each rule that works more than seconds):"
    ]
    lines += [f"  {rule:<20} {minutes:>6} min" for rule, minutes in sorted(longest.items())]
    trainings = [wildcards for rule, wildcards in jobs if rule == "train"]
    lines.append(f"  train runs as up to {train_submissions(config, clock, trainings)} submission(s) of max_runtime")
    return "\n".join(lines)
