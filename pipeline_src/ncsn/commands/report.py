"""``ncsn report``: the results table and the timing table, each as Markdown, CSV and LaTeX.

    ncsn report --settings '{"experiments": {...}, "device": "cpu"}' \
        --metrics NAME=results/eval/.../metrics.json --selection NAME=results/selection/.../selection.json \
        --train-benchmark NAME=results/benchmarks/train/....tsv --sample-benchmark NAME=...shard_0_of_1.tsv \
        [--prepare-benchmark NAME=results/benchmarks/prepare/DATASET.tsv] \
        [--timed-sample-benchmark NAME:100=results/benchmarks/sample_timing/.../n100.tsv] \
        --out-dir results/report

Every experiment of ``settings.experiments`` needs a metrics and a selection file and at least
one sample benchmark (one per shard; repeat the option), and a train benchmark unless it
evaluates a given checkpoint (a ``checkpoint`` block: no training, empty training cells). The
optional prepare benchmark (of the experiment's data set) and timed-sample benchmarks (one
sampling job of N images, [Re] Table 1) add columns to the timing table.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from ncsn.commands.options import add_settings_argument, named_path
from ncsn.comparisons import COMPARISON_NOTES, fid_comparisons, seed_summary
from ncsn.errors import NcsnError
from ncsn.records import METRICS, SELECTION
from ncsn.report.render import write_tables
from ncsn.report.tables import result_notes, result_row, results_table, timing_row, timing_table
from ncsn.settings import is_trained


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_settings_argument(
        parser,
        "report",
        "JSON with the config's 'experiments' block (runs of every seed, ncsn.seeds), 'device' and 'intervals'",
    )
    for option in ("--metrics", "--selection", "--train-benchmark", "--sample-benchmark", "--prepare-benchmark"):
        parser.add_argument(option, type=named_path, action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--timed-sample-benchmark", type=named_path, action="append", default=[], metavar="NAME:N=PATH")
    parser.add_argument(
        "--out-dir",
        type=Path,
        required=True,
        help="writes results, seeds, comparisons and timing (.md, .csv, .tex each) and fid_by_seed.png",
    )


def grouped(pairs: list[tuple[str, Path]]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = defaultdict(list)
    for name, path in pairs:
        out[name].append(path)
    return out


def timed_samples(pairs: list[tuple[str, Path]]) -> dict[str, dict[int, Path]]:
    """``NAME:N=PATH`` options -> {experiment: {image count: benchmark file}}."""
    out: dict[str, dict[int, Path]] = defaultdict(dict)
    for key, path in pairs:
        name, _, count = key.rpartition(":")
        if not name or not count.isdigit() or int(count) < 1:
            raise NcsnError(f"--timed-sample-benchmark wants NAME:N=PATH with N a whole number >= 1, got {key}={path}")
        out[name][int(count)] = path
    return out


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ncsn.plots import plot_fid_by_seed

    experiments = args.envelope["experiments"]
    files = {
        key: grouped(getattr(args, key)) for key in ("metrics", "selection", "train_benchmark", "sample_benchmark")
    }
    for key, by_name in files.items():
        needed = {x for x, e in experiments.items() if key != "train_benchmark" or is_trained(e)}
        missing = sorted(needed - set(by_name))
        if missing:
            raise NcsnError(f"no --{key.replace('_', '-')} NAME=PATH given for experiment(s) {missing}")
        for paths in by_name.values():
            for path in paths:
                if not path.is_file():
                    raise NcsnError(
                        f"--{key.replace('_', '-')} file {path} does not exist; run the workflow step that writes it"
                    )
    prepare = dict(args.prepare_benchmark)
    timed = timed_samples(args.timed_sample_benchmark)
    results, timing = [], []
    for name, exp in experiments.items():
        results.append(
            result_row(name, exp, SELECTION.read(files["selection"][name][0]), METRICS.read(files["metrics"][name][0]))
        )
        train_benchmark = files["train_benchmark"][name][0] if name in files["train_benchmark"] else None
        timing.append(
            timing_row(
                name,
                exp,
                train_benchmark,
                files["sample_benchmark"][name],
                device=args.envelope["device"],
                prepare_benchmark=prepare.get(name),
                timed_samples=timed.get(name),
            )
        )
    confidence = args.envelope["intervals"]["confidence"]
    summary = seed_summary(results, confidence)
    written = write_tables(results_table(results), args.out_dir / "results", result_notes(confidence))
    written += write_tables(summary, args.out_dir / "seeds")
    written += write_tables(fid_comparisons(results, confidence), args.out_dir / "comparisons", COMPARISON_NOTES)
    written += plot_fid_by_seed(pd.DataFrame(results), summary, args.out_dir / "fid_by_seed.png")
    written += write_tables(timing_table(timing), args.out_dir / "timing")
    for path in written:
        print(path)
    return 0
