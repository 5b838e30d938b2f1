"""The command-line options several commands share (``--settings``, ``--threads``, ``NAME=PATH``, the extractor's).

One definition of each, imported by every command that offers it; ``ncsn.cli`` only dispatches.
Importing this module imports neither torch nor any command.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from ncsn.errors import NcsnError


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
    parser: argparse.ArgumentParser,
    envelope: str,
    help_text: str = "settings as a JSON object, or @FILE (YAML or JSON)",
    where: str = "",
) -> None:
    """The shared ``--settings JSON|@FILE`` option through which rules pass config blocks.

    ``envelope`` names what the command receives (the schema's ``envelopes``; ``{kind}`` and other
    ``{argument}``s are filled from the parsed arguments, as ``where``, the key path its messages
    start with). :func:`check_settings` checks it once and hands the command ``args.envelope``.
    """
    parser.add_argument("--settings", dest="given_settings", type=parse_json_settings, default={}, help=help_text)
    parser.set_defaults(envelope_of=(envelope, where))


def check_settings(args: argparse.Namespace) -> None:
    """The one check of ``--settings``, for every command that takes it (``ncsn.cli`` calls it after parsing):
    ``args.envelope`` is the JSON checked against the command's envelope, every default filled."""
    if not hasattr(args, "envelope_of"):
        return
    from ncsn.settings import check_envelope

    envelope, where = (text.format(**vars(args)) for text in args.envelope_of)
    args.envelope = check_envelope(envelope, args.given_settings, where)


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """The shared ``--threads N`` option of the commands that run torch on the CPU."""
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads for torch (default: all CPUs this job may use)"
    )


def add_extractor_arguments(parser: argparse.ArgumentParser) -> None:
    """The extractor/reference options of the commands that compare samples with reference statistics
    (``score``, ``evaluate``, ``neighbours``)."""
    parser.add_argument(
        "--extractor",
        "--extractor-model",
        dest="extractor",
        default=None,
        help="classifier: model.pt of train-extractor; inception: torch-fidelity weights (default: the file the statistics record)",
    )
    parser.add_argument(
        "--refstats", "--ref", dest="refstats", required=True, help="reference statistics of `ncsn ref-stats`"
    )
    parser.add_argument(
        "--extractor-settings",
        type=parse_json_settings,
        default=None,
        help="extractor block (JSON); default: the settings the reference statistics record",
    )


def add_checkpoint_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """``--checkpoint FILE | --selection selection.json``: the checkpoint a command ``what`` (samples, scores)."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="checkpoint file ckpt_{iteration}.pt")
    source.add_argument("--selection", help=f"selection.json of `ncsn select`: {what} the checkpoint it names")


def checkpoint_of(args: argparse.Namespace) -> str:
    """The one way a job's checkpoint is resolved: ``--checkpoint``, else the one ``--selection``'s record names."""
    return str(args.checkpoint) if args.checkpoint else selected_checkpoint(args.selection)


def selected_checkpoint(selection: str | Path) -> str:
    """The checkpoint a selection record (``ncsn select``'s selection.json) names."""
    from ncsn.records import SELECTION

    return str(SELECTION.read(selection)["checkpoint"])
