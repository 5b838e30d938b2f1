"""``python -m ncsn <command>``: the command line every Snakemake rule calls.

Each command lives in ``ncsn.commands.<module>`` with ``add_arguments(parser)`` and
``run(args) -> int | None``; modules are imported only when their command runs, so
``python -m ncsn prepare`` does not pay for importing the metrics libraries. The options several
commands share live in ``ncsn.commands.options``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from ncsn import __version__
from ncsn.commands.options import check_settings
from ncsn.errors import NcsnError
from ncsn.slurm import placement

# command name -> (module under ncsn.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "prepare": ("prepare", "turn a data set into cached uint8 train/test arrays"),
    "train": ("train", "train a score network (resumable)"),
    "train-extractor": ("train_extractor", "train the digits feature extractor for FID/IS"),
    "ref-stats": ("ref_stats", "feature statistics of a data set's training split"),
    "sample": ("sample", "draw (a shard of) samples from a checkpoint with Langevin dynamics"),
    "score": ("score", "FID of one checkpoint on a small sample (model selection)"),
    "heldout-loss": ("heldout_loss", "DSM loss of a checkpoint on fixed held-out images (cheap model comparison)"),
    "select": ("select", "pick the best checkpoint from per-checkpoint scores"),
    "evaluate": ("evaluate", "final IS/FID of sampled shards with torch-fidelity and clean-fid"),
    "neighbours": ("neighbours", "nearest training images of generated samples"),
    "toy": ("toy", "toy experiments of the paper (Figs. 1-3)"),
    "figure": ("figure", "figures of the papers from workflow artifacts"),
    "report": ("report", "results tables (Markdown, CSV, LaTeX)"),
    "estimate": ("estimate", "GPU-hours and disk of a config, per rule, before running it"),
    "import-official": ("import_official", "convert an official NCSN checkpoint (ermongroup/ncsn) to ours"),
    "fidelity": ("fidelity", "IS, FID, KID, precision/recall of your own image folder or .npz against a reference"),
    "export": ("export", "write the samples of a shard or a whole run to a PNG folder"),
    "fetch": ("fetch", "download a file (the Inception weights) and keep it only if its SHA-256 matches"),
    "fixtures": ("fixtures", "small real-format stand-ins of the paper's data and Inception files (smoke run)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ncsn", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"ncsn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = build_parser()
    if not argv or argv[0] not in COMMANDS:
        top.parse_args(argv)  # prints the version, usage or the unknown-command error, and exits
        return 2
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(f"ncsn.commands.{COMMANDS[name][0]}")
    parser = argparse.ArgumentParser(prog=f"ncsn {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    try:
        args = parser.parse_args(rest)
        check_settings(args)  # the one check of --settings: the command reads args.envelope
        where = placement()
        if where:
            print(where, file=sys.stderr, flush=True)
        return int(module.run(args) or 0)
    except NcsnError as err:
        print(f"ncsn {name}: error: {err}", file=sys.stderr)
        return 2
