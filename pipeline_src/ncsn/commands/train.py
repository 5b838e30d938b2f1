"""``python -m ncsn train``: train a score network, resuming from the newest complete snapshot in the state dir.

SIGTERM or SIGUSR1 (a cluster's scancel, pre-emption or early warning), like a near time limit,
make it snapshot where it is and exit with status 75 (``ncsn.slurm.EXIT_RESUME``); run again, it
resumes there bit for bit.
"""

from __future__ import annotations

import argparse

from ncsn.commands.options import add_settings_argument, add_threads_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="prepared training split (results/data/DATASET/train.npz)")
    parser.add_argument(
        "--state-dir",
        required=True,
        help="folder for resumable snapshots ckpt_{iteration}.pt (results/train_state/DATASET/EXPERIMENT); keep it between runs",
    )
    parser.add_argument(
        "--out-dir", required=True, help="where the finished run is published: checkpoints/, loss.csv, run.json"
    )
    add_settings_argument(
        parser,
        "train",
        'JSON {"model": {...}, "schedule": {...}, "training": {...}, "device": "auto|cpu|cuda", "seed": 0, "flip": false}; '
        "training keys default to the paper (Adam lr 1e-3, batch 128, 200000 iterations, snapshot every 5000)",
    )
    add_threads_argument(parser)
    parser.add_argument(
        "--wall-time",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop this many seconds after starting, with a snapshot to resume from, and exit with status 75 "
        "(default: --stop-margin seconds before the time limit of the SLURM job this runs in; none outside SLURM)",
    )
    parser.add_argument(
        "--stop-margin",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds kept in hand before a SLURM job's time limit (default: the setting cluster.stop_margin's)",
    )


def run(args: argparse.Namespace) -> int:
    import sys
    import time

    from ncsn.settings import defaults
    from ncsn.slurm import EXIT_RESUME, caught_stop_signals, slurm_deadline, stop_on_signal_or_deadline, stop_rule
    from ncsn.train import StoppedEarly, train

    if args.wall_time is not None:
        deadline = stop_rule(time.time() + args.wall_time, margin=0.0)
    else:
        margin = defaults("cluster")["stop_margin"] if args.stop_margin is None else args.stop_margin
        deadline = stop_rule(slurm_deadline(), margin)
    try:
        with caught_stop_signals() as signalled:  # SIGTERM/SIGUSR1: snapshot where it is, exit 75
            stop = stop_on_signal_or_deadline(signalled, deadline)
            record = train(args.data, args.state_dir, args.out_dir, args.envelope, threads=args.threads, stop=stop)
    except StoppedEarly as stopped:
        print(f"ncsn train: {stopped}", file=sys.stderr)
        return EXIT_RESUME
    speed = f"{record['it_per_s']:.3g} it/s" if record["it_per_s"] else "no new iterations"
    print(
        f"trained {record['iterations']} iterations ({speed}); published {len(record['checkpoints'])} checkpoint(s) to {args.out_dir}"
    )
    return 0
