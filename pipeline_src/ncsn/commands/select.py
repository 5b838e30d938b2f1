"""``python -m ncsn select``: the best checkpoint (lowest FID, or the last one) and the FID-vs-checkpoint table."""

from __future__ import annotations

import argparse

from ncsn.commands.options import add_settings_argument
from ncsn.records import FID


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scores", nargs="*", default=[], help="score JSON files of `ncsn score`, one per scored checkpoint"
    )
    parser.add_argument(
        "--losses", nargs="*", default=[], help="held-out loss JSON files of `ncsn heldout-loss`, one per checkpoint"
    )
    parser.add_argument(
        "--candidates",
        default=None,
        help="loss_topk: only write the k checkpoints of lowest held-out loss to this JSON",
    )
    parser.add_argument(
        "--run", default=None, help="run.json of the training run: its checkpoints, for criterion last without scores"
    )
    parser.add_argument(
        "--checkpoint", default=None, help="a given checkpoint (no training): the selection names it (criterion given)"
    )
    parser.add_argument(
        "--criterion",
        choices=("fid", "last", "loss_topk"),
        default=None,
        help="overrides settings.criterion (default fid)",
    )
    add_settings_argument(
        parser,
        "select",
        'JSON {"criterion": "fid|last|loss_topk", "num_samples": 1000, "k": 3} (the experiment\'s selection block)',
    )
    parser.add_argument("--out", default=None, help="selection JSON to write (required unless --candidates)")
    parser.add_argument("--table", default=None, help="FID-vs-checkpoint CSV to write (required unless --checkpoint)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ncsn.errors import NcsnError
    from ncsn.io import atomic_path
    from ncsn.metrics.selection import (
        given_selection,
        iteration_from_name,
        loss_candidates,
        merge_by_iteration,
        select,
        table_csv,
    )
    from ncsn.records import CANDIDATES, HELDOUT_LOSS, RUN, SCORE, SELECTION

    if args.checkpoint:
        if not args.out:
            raise NcsnError("--out is required")
        selection = given_selection(args.checkpoint)
        SELECTION.write(args.out, selection)
        print(f"given checkpoint {args.checkpoint} (iteration {selection['iteration']}) -> {args.out}")
        return 0
    criterion = args.criterion or args.envelope["criterion"]
    k = args.envelope["k"]
    losses = [HELDOUT_LOSS.read(path) for path in args.losses]
    if args.candidates:
        chosen = loss_candidates(losses, k)
        CANDIDATES.write(args.candidates, {"k": k, "iterations": chosen, "losses": list(args.losses)})
        print(f"{len(chosen)} of {len(losses)} checkpoints by held-out loss: {chosen} -> {args.candidates}")
        return 0
    if not args.out or not args.table:
        raise NcsnError("--out and --table are required when selecting among checkpoints")
    scores = merge_by_iteration(losses, [SCORE.read(path) for path in args.scores])
    if not args.scores and not args.losses and args.run:
        folder = Path(args.run).parent / "checkpoints"
        scores = [
            {"checkpoint": str(folder / name), "iteration": iteration_from_name(name)}
            for name in RUN.read(args.run)["checkpoints"]
        ]
    selection = select(scores, criterion, k)
    selection["scores"] = list(args.scores)
    SELECTION.write(args.out, selection)
    with atomic_path(args.table) as tmp:
        tmp.write_text(table_csv(scores, selection))
    fid = f", FID {selection[FID]:.4g}" if selection.get(FID) is not None else ""
    rho = selection.get("loss_fid_spearman")
    rho_text = (
        f"; Spearman(held-out loss, FID) {rho:.3f} over {selection['fid_jobs']} scored" if rho is not None else ""
    )
    stability = selection.get("selection_stability")
    noise_text = (
        f"; another checkpoint wins {stability['instability']:.0%} of {stability['resamples']} half-sample redraws"
        " (a stability index)"
        if stability
        else ""
    )
    print(
        f"selected checkpoint {selection['iteration']} ({criterion}{fid}) of {len(scores)}{rho_text}{noise_text} -> {args.out}"
    )
    return 0
