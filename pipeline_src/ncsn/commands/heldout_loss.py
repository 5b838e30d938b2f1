"""``python -m ncsn heldout-loss``: DSM loss of one checkpoint on fixed held-out images, noise and levels."""

from __future__ import annotations

import argparse

from ncsn.commands.options import add_settings_argument, add_threads_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="checkpoint file ckpt_{iteration}.pt")
    parser.add_argument("--data", required=True, help="held-out split (results/data/DATASET/test.npz)")
    add_settings_argument(
        parser,
        "heldout-loss",
        'JSON {"heldout": {"num_images": 256, "batch_size": 256, "seed": 0}, "sampling": {"use_ema": null}, "device": "auto"}',
    )
    add_threads_argument(parser)
    parser.add_argument(
        "--out", required=True, help="JSON to write (results/heldout/DATASET/EXPERIMENT/ckpt_{iteration}.json)"
    )


def run(args: argparse.Namespace) -> int:
    import time

    from ncsn.checkpoint import load_score_model
    from ncsn.data import load_split
    from ncsn.device import select_device, setup_threads
    from ncsn.metrics.heldout import heldout_loss
    from ncsn.records import HELDOUT_LOSS

    began = time.perf_counter()
    use_ema = args.envelope["sampling"]["use_ema"]  # the weights sampling uses
    setup_threads(args.threads)
    images, _ = load_split(args.data)
    model, sigmas, info = load_score_model(args.checkpoint, select_device(args.envelope["device"]), use_ema=use_ema)
    result = heldout_loss(model, sigmas, images, args.envelope["heldout"])
    record = {
        "checkpoint": str(args.checkpoint),
        "iteration": info["iteration"],
        "ema": info["ema"],
        **result,
        "data": str(args.data),
    }
    record["seconds"] = round(time.perf_counter() - began, 3)
    HELDOUT_LOSS.write(args.out, record)
    print(
        f"checkpoint {info['iteration']}: held-out DSM loss {record['heldout_loss']:.5g} on {record['num_images']} images -> {args.out}"
    )
    return 0
