"""``python -m ncsn select``: the best checkpoint (lowest FID, or the last one) and the FID-vs-checkpoint table."""

from __future__ import annotations

import argparse

from ncsn.cli import add_settings_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scores", nargs="*", default=[], help="score JSON files of `ncsn score`, one per checkpoint")
    parser.add_argument("--run", default=None, help="run.json of the training run: its checkpoints, for criterion last without scores")
    parser.add_argument("--checkpoint", default=None, help="a given checkpoint (no training): the selection names it (criterion given)")
    parser.add_argument("--criterion", choices=("fid", "last"), default=None, help="overrides settings.criterion (default fid)")
    add_settings_argument(parser, 'JSON {"criterion": "fid|last", "num_samples": 1000} (the experiment\'s selection block)')
    parser.add_argument("--out", required=True, help="selection JSON to write")
    parser.add_argument("--table", default=None, help="FID-vs-checkpoint CSV to write (required unless --checkpoint)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ncsn.errors import NcsnError
    from ncsn.io import atomic_path, read_json, write_json
    from ncsn.metrics.selection import given_selection, iteration_from_name, select, table_csv

    if args.checkpoint:
        selection = given_selection(args.checkpoint)
        write_json(args.out, selection)
        print(f"given checkpoint {args.checkpoint} (iteration {selection['iteration']}) -> {args.out}")
        return 0
    if not args.table:
        raise NcsnError("--table is required when selecting among scored checkpoints")
    criterion = args.criterion or args.settings.get("criterion", "fid")
    for path in args.scores:
        if not Path(path).is_file():
            raise NcsnError(f"score file {path} does not exist; run `python -m ncsn score` for that checkpoint")
    scores = [read_json(path) for path in args.scores]
    if not scores and args.run:
        if not Path(args.run).is_file():
            raise NcsnError(f"run record {args.run} does not exist; train the experiment first")
        folder = Path(args.run).parent / "checkpoints"
        scores = [{"checkpoint": str(folder / name), "iteration": iteration_from_name(name)} for name in read_json(args.run)["checkpoints"]]
    selection = select(scores, criterion)
    selection["scores"] = list(args.scores)
    write_json(args.out, selection)
    with atomic_path(args.table) as tmp:
        tmp.write_text(table_csv(scores, selection))
    fid = f", FID {selection['fid']:.4g}" if selection.get("fid") is not None else ""
    print(f"selected checkpoint {selection['iteration']} ({criterion}{fid}) of {len(scores)} -> {args.out}")
    return 0
