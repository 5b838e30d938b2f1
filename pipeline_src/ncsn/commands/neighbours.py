"""``ncsn neighbours``: the k nearest training images of generated samples, in pixel and feature space.

    ncsn neighbours --samples SHARD.npz [...] --train results/data/digits/train.npz \
        --refstats results/refstats/digits/digits.npz [--extractor results/extractors/digits/model.pt] \
        --settings '{"num_queries": 8, "k": 5, "device": "cpu"}' --out-dir results/neighbours/digits/EXP

Writes ``neighbours.npz`` (query indices; indices and l2 distances per space), ``summary.json``
and one figure per space, ``pixel.png`` and ``feature.png`` (samples left of a red bar, their
neighbours right of it; paper App. Figs. 9-10, [Re] Fig. 6). Feature space is the FID feature
layer of the extractor the reference statistics were computed with.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ncsn.commands.options import add_extractor_arguments, add_settings_argument
from ncsn.errors import NcsnError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", nargs="+", type=Path, required=True, help="sample shards of `ncsn sample`")
    parser.add_argument("--train", type=Path, required=True, help="the prepared training split (train.npz)")
    add_extractor_arguments(parser)
    add_settings_argument(parser, "neighbours", 'JSON {"num_queries": 8, "k": 5, "device": "auto"}')
    parser.add_argument("--out-dir", type=Path, required=True)


def extractor_features(extractor, images: np.ndarray) -> torch.Tensor:
    """FID-layer features of uint8 NHWC images, batch by batch, as float64 (N, D)."""
    parts = [
        extractor.torch_fidelity_features(images[i : i + extractor.batch_size])[0]
        for i in range(0, len(images), extractor.batch_size)
    ]
    return torch.cat(parts).double().flatten(1)


def run(args: argparse.Namespace) -> int:
    from ncsn.data import load_split
    from ncsn.device import select_device, setup_threads
    from ncsn.generate import load_shards
    from ncsn.io import save_npz
    from ncsn.metrics.refstats import extractor_for_reference
    from ncsn.neighbours import nearest_neighbours, pixel_vectors
    from ncsn.plots import grid_scale, save_rows_with_separator
    from ncsn.records import NEIGHBOURS

    num_queries, k = args.envelope["num_queries"], args.envelope["k"]
    samples, _ = load_shards(args.samples)
    train, _ = load_split(args.train)
    if samples.shape[1:] != train.shape[1:]:
        raise NcsnError(
            f"samples have image shape {samples.shape[1:]} but {args.train} holds {train.shape[1:]}: not the same data set"
        )
    if k > len(train):
        raise NcsnError(f"k = {k} exceeds the {len(train)} training images")
    queries = samples[: min(num_queries, len(samples))]
    setup_threads()
    device = select_device(args.envelope["device"])
    extractor, _, _ = extractor_for_reference(args.refstats, args.extractor, device, args.extractor_settings)
    result: dict[str, np.ndarray] = {"query_indices": np.arange(len(queries))}
    summary: dict[str, object] = {
        "num_queries": len(queries),
        "k": k,
        "train_images": len(train),
        "extractor": extractor.identity["kind"],
    }
    spaces = {
        "pixel": (pixel_vectors(queries), pixel_vectors(train)),
        "feature": (extractor_features(extractor, queries), extractor_features(extractor, train)),
    }
    out = args.out_dir
    written = []
    for space, (q, ref) in spaces.items():
        dist, idx = nearest_neighbours(q, ref, k)
        result[f"{space}_indices"], result[f"{space}_distances"] = idx.numpy(), dist.numpy()
        summary[f"{space}_nearest_distance"] = {"min": float(dist[:, 0].min()), "mean": float(dist[:, 0].mean())}
        written.append(
            save_rows_with_separator(
                queries, train[idx.numpy()], out / f"{space}.png", scale=grid_scale(train.shape[1])
            )
        )
    save_npz(out / "neighbours.npz", **result)
    NEIGHBOURS.write(out / "summary.json", summary)
    for path in [out / "neighbours.npz", out / "summary.json", *written]:
        print(path)
    return 0
