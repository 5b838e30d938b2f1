"""``python -m ncsn prepare``: turn one data set into cached uint8 train/test arrays and meta.json."""

from __future__ import annotations

import argparse

from ncsn.commands.options import add_settings_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="data set name (the key under the config's datasets:)")
    add_settings_argument(
        parser,
        "prepare",
        'the data set\'s settings block as JSON, e.g. \'{"source": "digits"}\'',
        where="datasets.{name}",
    )
    parser.add_argument(
        "--out-dir", required=True, help="folder for train.npz, test.npz and meta.json (results/data/NAME)"
    )


def run(args: argparse.Namespace) -> int:
    from ncsn.data import prepare

    meta = prepare(args.name, args.envelope, args.out_dir)
    counts, shape = meta["counts"], "x".join(map(str, meta["shape"]))
    print(
        f"{args.name}: {counts['train']} train + {counts['test']} test images of {shape} -> {args.out_dir} (sha256 {meta['content_sha256'][:12]})"
    )
    return 0
