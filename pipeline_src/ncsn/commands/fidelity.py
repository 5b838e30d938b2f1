"""``python -m ncsn fidelity``: IS, FID (torch-fidelity, clean-fid), KID and precision/recall of your own images.

    python -m ncsn fidelity --input1 generated/ --input2 results/data/cifar10 \
        --extractor inception --weights weights/weights-inception-2015-12-05-6726825d.pth --out metrics.json

input1: the generated images (PNG/JPEG folder or .npz); input2: the reference (folder, .npz,
prepared data set folder — its training split by default, as the workflow's reference statistics
and the results table — or saved statistics). Like torch-fidelity's ``fidelity`` command, but
with both libraries' FID and local weights only.
"""

from __future__ import annotations

import argparse

from ncsn.commands.options import add_threads_argument
from ncsn.data.store import REFERENCE_SPLIT, SPLITS
from ncsn.records import INCEPTION_SCORE
from ncsn.settings import defaults, top_level_default


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input1",
        required=True,
        help="generated images: a PNG/JPEG folder or an .npz with 'images' (e.g. a sample shard)",
    )
    parser.add_argument(
        "--input2",
        required=True,
        help="reference: a folder, an .npz with 'images', a prepared data set folder (see --split) or statistics (.npz with mu, sigma)",
    )
    parser.add_argument(
        "--split",
        choices=(*SPLITS, "all"),
        default=REFERENCE_SPLIT,
        help=f"which images of a prepared data set folder to use (default {REFERENCE_SPLIT}: the split the workflow's "
        "reference statistics and the results table use; all = train and test)",
    )
    parser.add_argument(
        "--extractor",
        choices=("inception", "classifier", "digits"),
        default="inception",
        help="feature extractor (default inception; classifier: a model.pt of train-extractor; digits: its former name)",
    )
    parser.add_argument(
        "--weights",
        required=True,
        help="inception: torch-fidelity's weights-inception-2015-12-05-6726825d.pth; classifier: model.pt of train-extractor",
    )
    parser.add_argument(
        "--cleanfid-weights", default=None, help="clean-fid's inception-2015-12-05.pt (default: beside --weights)"
    )
    parser.add_argument(
        "--is-splits",
        type=int,
        default=defaults("evaluation")["is_splits"],
        help="Inception Score splits (default: evaluation.is_splits's; fewer when there are fewer images)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="extractor batch size (default: the kind's eval_batch_size)"
    )
    parser.add_argument("--device", default=top_level_default("device"), help="auto | cpu | cuda")
    add_threads_argument(parser)
    parser.add_argument(
        "--out", default=None, help="metrics JSON to write (optional; the numbers are printed either way)"
    )


def run(args: argparse.Namespace) -> int:
    import time

    from ncsn.device import select_device, setup_threads
    from ncsn.metrics.extractors import build_extractor, check_extractor
    from ncsn.metrics.fidelity import LIBRARY_VERSIONS, image_statistics, quality, summary_line
    from ncsn.metrics.image_sets import is_prepared_data_set, is_statistics_file, load_images, load_statistics
    from ncsn.records import FIDELITY

    began = time.perf_counter()
    settings = {"kind": args.extractor}
    if args.extractor == "inception" and args.cleanfid_weights:
        settings["cleanfid_weights"] = args.cleanfid_weights
    if args.batch_size is not None:
        settings["eval_batch_size"] = args.batch_size
    check_extractor(settings, args.weights)  # missing weight files stop here, before any image is read
    setup_threads(args.threads)
    extractor = build_extractor(settings, args.weights, select_device(args.device))
    channels = extractor.torch_fidelity.net.image_shape[2] if extractor.kind == "classifier" else 3

    def scored(path: str):
        images = load_images(path, channels, args.split)
        extractor.check_images(images, path)
        stats = image_statistics(images, extractor, is_splits=min(args.is_splits, len(images)))
        split = {"split": args.split} if is_prepared_data_set(path) else {}
        return stats, {"path": path, **split, "num_images": len(images), INCEPTION_SCORE: stats.inception_score()}

    generated, input1 = scored(args.input1)
    if is_statistics_file(args.input2):
        reference, meta = load_statistics(args.input2, extractor)
        input2 = {
            "path": args.input2,
            "statistics": True,
            "num_images": meta.get("num_images"),
            INCEPTION_SCORE: meta.get(INCEPTION_SCORE),
        }
    else:
        reference, input2 = scored(args.input2)
    metrics = {
        **quality(generated, reference),
        "num_samples": input1["num_images"],
        "input1": input1,
        "input2": input2,
        "extractor": extractor.identity,
        "libraries": dict(LIBRARY_VERSIONS),
        "seconds": round(time.perf_counter() - began, 3),
    }
    if args.out:
        FIDELITY.write(args.out, metrics)
    print(f"{summary_line(metrics)} on {input1['num_images']} images" + (f" -> {args.out}" if args.out else ""))
    return 0
