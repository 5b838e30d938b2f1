"""``python -m ncsn <command>``: the command line every Snakemake rule calls.

Each command lives in ``ncsn.commands.<module>`` with ``add_arguments(parser)`` and
``run(args) -> int | None``; modules are imported only when their command runs, so
``python -m ncsn prepare`` does not pay for importing the metrics libraries.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import yaml

from ncsn import __version__
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


def parse_json_settings(text: str) -> dict[str, Any]:
    """Parse ``--settings``: a JSON object, or ``@FILE`` naming a YAML/JSON file that holds one."""
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise NcsnError(f"--settings {text}: file '{path}' does not exist; pass @PATH of a YAML or JSON file")
        try:
            value = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise NcsnError(f"--settings {text}: '{path}' is not valid YAML/JSON ({err})") from err
        source = f"the file '{path}'"
    else:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise NcsnError(
                f"--settings is not valid JSON ({err}); pass a JSON object such as '{{\"seed\": 0}}' or @FILE.yaml"
            ) from err
        source = "--settings"
    if not isinstance(value, dict):
        raise NcsnError(f"{source} must be a JSON object (a mapping), got {type(value).__name__}")
    return value


def named_path(text: str) -> tuple[str, Path]:
    """argparse type for ``NAME=PATH`` options (e.g. ``--metrics digits_geometric=metrics.json``)."""
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name, Path(path)


def add_settings_argument(
    parser: argparse.ArgumentParser, help_text: str = "settings as a JSON object, or @FILE (YAML or JSON)"
) -> None:
    """The shared ``--settings JSON|@FILE`` option through which rules pass config blocks."""
    parser.add_argument("--settings", type=parse_json_settings, default={}, help=help_text)


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """The shared ``--threads N`` option of the commands that run torch on the CPU."""
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads for torch (default: all CPUs this job may use)"
    )


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
        where = placement()
        if where:
            print(where, file=sys.stderr, flush=True)
        return int(module.run(args) or 0)
    except NcsnError as err:
        print(f"ncsn {name}: error: {err}", file=sys.stderr)
        return 2
