"""``python -m ncsn import-official``: turn an official NCSN checkpoint (ermongroup/ncsn) into one our commands load."""

from __future__ import annotations

import argparse

from ncsn.official import OFFICIAL_MODELS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint", help="official checkpoint.pth ([score.state_dict(), optimizer.state_dict()], keys 'module.*')"
    )
    parser.add_argument(
        "--dataset",
        required=True,
        choices=sorted(OFFICIAL_MODELS),
        help="which official config trained it (sets channels, size, ngf)",
    )
    parser.add_argument(
        "--ngf", type=int, default=None, help="override the official width (128 CIFAR-10/CelebA, 64 MNIST)"
    )
    parser.add_argument(
        "--iteration",
        type=int,
        default=None,
        help="training step to record (default: from checkpoint_{step}.pth, else 0)",
    )
    parser.add_argument(
        "--out", required=True, help="our checkpoint file to write (e.g. results/official/cifar10/ckpt_0.pt)"
    )


def run(args: argparse.Namespace) -> int:
    from ncsn.checkpoint import load_score_model, save_checkpoint
    from ncsn.models import count_parameters
    from ncsn.official import import_official

    state = import_official(args.checkpoint, args.dataset, ngf=args.ngf, iteration=args.iteration)
    save_checkpoint(args.out, state)
    model, _, info = load_score_model(args.out)  # the written file loads as every command will load it
    spec = info["model_spec"]
    print(
        f"imported {args.checkpoint} ({args.dataset}: {spec['channels']}x{spec['image_size']}x{spec['image_size']}, ngf {spec['ngf']}, "
        f"{count_parameters(model):,} parameters, iteration {info['iteration']}) -> {args.out}"
    )
    return 0
