"""``python -m ncsn score``: FID of one checkpoint on a small sample (paper App. B.2: 1000 samples), for model selection."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ncsn.commands.options import (
    add_checkpoint_arguments,
    add_extractor_arguments,
    add_settings_argument,
    add_threads_argument,
    checkpoint_of,
)
from ncsn.records import FID
from ncsn.settings import defaults


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_checkpoint_arguments(parser, "score")
    add_extractor_arguments(parser)
    parser.add_argument(
        "--num-samples",
        type=int,
        default=defaults("selection")["num_samples"],
        help="samples to score (default: selection.num_samples's, the paper's 1000)",
    )
    add_settings_argument(
        parser,
        "score",
        'JSON {"sampling": {...}, "device": "auto", "seed": 0, "intervals": {...}} (as for `ncsn sample`, and the half-sample intervals)',
    )
    add_threads_argument(parser)
    parser.add_argument(
        "--out", required=True, help="score JSON to write (results/scores/DATASET/EXPERIMENT/ckpt_{iteration}.json)"
    )
    parser.add_argument("--samples-out", default=None, help="also keep the samples as a shard .npz here")
    parser.add_argument(
        "--reuse",
        nargs="*",
        default=[],
        metavar="SCORE_JSON",
        help="earlier scores (written with --samples-out); one of the same checkpoint, sampler settings, seed, sample "
        "count, extractor and reference is copied with its samples instead of drawing them again",
    )


def reuse_score(candidates: list[str], draw: dict[str, Any], out: str, samples_out: str | None) -> bool:
    """Copy the first candidate score of the same draw (``ncsn.records.score_draw``), with its samples
    still on disk, to ``out`` (and its samples to ``samples_out``); False when none matches."""
    import shutil

    from ncsn.io import atomic_path
    from ncsn.records import SCORE, score_draw

    wanted = score_draw(draw)
    for path in candidates:
        score = SCORE.read(path)
        if score_draw(score) != wanted or score["samples"] is None or not Path(score["samples"]).is_file():
            continue
        if samples_out:
            with atomic_path(samples_out) as tmp:
                shutil.copyfile(score["samples"], tmp)
            score["samples"] = str(samples_out)
        SCORE.write(out, {**score, "reused_from": str(path)})
        print(
            f"checkpoint {score['iteration']}: FID {score[FID]:.4g} on {score['num_samples']} samples, reused from {path} (same draw) -> {out}"
        )
        return True
    return False


def run(args: argparse.Namespace) -> int:
    import time

    from ncsn.checkpoint import load_score_model
    from ncsn.device import select_device, setup_threads
    from ncsn.generate import generate, save_shard
    from ncsn.metrics.bootstrap import intervals
    from ncsn.metrics.fidelity import IS_SPLITS, image_statistics, quality, summary_line
    from ncsn.metrics.refstats import extractor_for_reference
    from ncsn.models import image_shape
    from ncsn.records import SCORE
    from ncsn.settings import shard_blocks

    began = time.perf_counter()
    opts = args.envelope["sampling"]
    shard_blocks(args.num_samples, opts["batch_size"], 0, 1)
    setup_threads(args.threads)
    device = select_device(args.envelope["device"])
    extractor, reference, ref_meta = extractor_for_reference(
        args.refstats, args.extractor, device, args.extractor_settings
    )
    seed = args.envelope["seed"]
    checkpoint = checkpoint_of(args)
    # the fields of the score that say which samples it holds (ncsn.records.score_draw)
    draw = {
        "checkpoint": checkpoint,
        "num_samples": args.num_samples,
        "sampling": {"sampling": opts, "seed": seed, "stream": "selection"},
        "extractor": extractor.identity,
        "reference": {"path": str(Path(args.refstats)), "data": ref_meta["data"], "num_images": ref_meta["num_images"]},
    }
    if reuse_score(args.reuse, draw, args.out, args.samples_out):
        return 0
    model, sigmas, info = load_score_model(checkpoint, device, use_ema=opts["use_ema"])
    spec = info["model_spec"]
    images, sample_info = generate(
        model,
        sigmas,
        image_shape(spec),
        opts,
        args.num_samples,
        seed,
        log=print,
        stream=draw["sampling"]["stream"],
    )
    sample_info.update(checkpoint=checkpoint, iteration=info["iteration"], ema=info["ema"])
    if args.samples_out:
        save_shard(args.samples_out, images, sample_info)
    stats = image_statistics(
        images, extractor, is_splits=min(IS_SPLITS, len(images)), keep_all=True, cleanfid=args.envelope["cleanfid"]
    )
    score = {
        **draw,
        "iteration": info["iteration"],
        **quality(stats, reference),
        "intervals": intervals(stats, reference, args.envelope["intervals"]),
        "num_samples": len(images),
        "sampling": {k: sample_info[k] for k in ("sampling", "seed", "stream", "device", "seconds", "samples_per_s")},
        "samples": str(args.samples_out) if args.samples_out else None,
        "seconds": round(time.perf_counter() - began, 3),
    }
    SCORE.write(args.out, score)
    print(f"checkpoint {info['iteration']}: {summary_line(score)} on {len(images)} samples -> {args.out}")
    return 0
