"""``python -m ncsn export``: the samples of a shard, or of all shards of a run, as a folder of PNG files."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--samples",
        nargs="+",
        required=True,
        help="one shard .npz, all shards of a draw, or a results/samples/DATASET/EXPERIMENT folder",
    )
    parser.add_argument("--limit", type=int, default=None, help="write only the first N images")
    parser.add_argument("--out", required=True, help="folder to write NNNNNN.png into (created if missing)")


def run(args: argparse.Namespace) -> int:
    from ncsn.errors import NcsnError
    from ncsn.export import load_samples, write_pngs

    if args.limit is not None and args.limit < 1:
        raise NcsnError(f"--limit must be >= 1, got {args.limit}")
    images, first = load_samples(args.samples)
    written = write_pngs(images[: args.limit], args.out, first)
    print(
        f"{len(written)} PNG images ({images.shape[1]}x{images.shape[2]}, {images.shape[3]} channel(s)) -> {args.out}"
    )
    return 0
