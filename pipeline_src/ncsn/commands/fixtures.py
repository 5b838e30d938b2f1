"""``python -m ncsn fixtures``: the paper smoke run's inputs (MNIST, CIFAR-10, CelebA, Inception) in real formats."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="folder to write mnist/, cifar10/, celeba/ and weights/ into")
    parser.add_argument("--seed", type=int, default=0, help="seed of the images and the random Inception weights")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ncsn.fixtures import write_paper_inputs

    for name, path in write_paper_inputs(Path(args.out), seed=args.seed).items():
        print(f"{name}: {path}")
    return 0
