"""``python -m ncsn sample``: draw shard k of K of N samples from a checkpoint (uint8 NHWC ``.npz``).

Each finished block of the shard is kept in ``OUT.blocks/`` until the shard is written, so a job
killed after hours (scancel, pre-emption, a time limit) resumes at its first unfinished block.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ncsn.commands.options import add_checkpoint_arguments, add_settings_argument, add_threads_argument, checkpoint_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_checkpoint_arguments(parser, "sample from")
    parser.add_argument(
        "--num-samples", type=int, required=True, help="samples of the whole draw (all shards together)"
    )
    parser.add_argument("--shard", type=int, default=0, help="this shard's index k in 0..K-1")
    parser.add_argument("--shards", "--num-shards", dest="shards", type=int, default=1, help="number of shards K")
    add_settings_argument(
        parser,
        "sample",
        'JSON {"sampling": {"method": "annealed|langevin", "n_steps_each": 100, "eps": 2e-5, "denoise": false, '
        '"batch_size": 1000, "use_ema": null}, "device": "auto", "seed": 0}',
    )
    add_threads_argument(parser)
    parser.add_argument(
        "--out", required=True, help="shard file to write (results/samples/DATASET/EXPERIMENT/shard_k_of_K.npz)"
    )


def blocks_dir_of(out: str) -> Path:
    """Where a shard keeps its finished blocks until it is written: beside it, ``OUT.blocks/``."""
    return Path(f"{out}.blocks")


def run(args: argparse.Namespace) -> int:
    import shutil

    from ncsn.checkpoint import load_score_model
    from ncsn.device import select_device, setup_threads
    from ncsn.generate import generate, save_shard
    from ncsn.models import image_shape
    from ncsn.settings import shard_blocks

    opts = args.envelope["sampling"]
    shard_blocks(args.num_samples, opts["batch_size"], args.shard, args.shards)  # bad sharding fails before loading
    setup_threads(args.threads)
    path = checkpoint_of(args)
    model, sigmas, info = load_score_model(path, select_device(args.envelope["device"]), use_ema=opts["use_ema"])
    spec = info["model_spec"]
    seed = args.envelope["seed"]
    draw = {"checkpoint": str(path), "iteration": info["iteration"], "ema": info["ema"], "sampling": opts}
    draw.update(seed=seed, num_samples=args.num_samples)
    blocks = blocks_dir_of(args.out)
    images, meta = generate(
        model,
        sigmas,
        image_shape(spec),
        opts,
        args.num_samples,
        seed,
        args.shard,
        args.shards,
        log=print,
        blocks_dir=blocks,
        draw_key=repr(draw),
    )
    meta.update(checkpoint=str(path), iteration=info["iteration"], ema=info["ema"])
    save_shard(args.out, images, meta)
    shutil.rmtree(blocks, ignore_errors=True)
    print(f"shard {args.shard} of {args.shards}: {len(images)} samples ({meta['samples_per_s']:.3g}/s) -> {args.out}")
    return 0
