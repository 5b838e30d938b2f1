"""``python -m ncsn ref-stats``: FID statistics (torch-fidelity and clean-fid) of a data set's training split."""

from __future__ import annotations

import argparse

from ncsn.commands.options import add_settings_argument, add_threads_argument, parse_json_settings
from ncsn.records import INCEPTION_SCORE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="prepared training split (results/data/DATASET/train.npz)")
    parser.add_argument(
        "--extractor",
        "--extractor-model",
        dest="extractor",
        default=None,
        help="classifier: model.pt of train-extractor; inception: torch-fidelity weights (overrides extractor.weights)",
    )
    parser.add_argument(
        "--extractor-settings",
        type=parse_json_settings,
        default=None,
        help="extractor block (JSON); default: settings.extractor",
    )
    add_settings_argument(
        parser, "ref-stats", 'JSON {"extractor": {"kind": "classifier|inception", ...}, "device": "auto"}'
    )
    add_threads_argument(parser)
    parser.add_argument(
        "--out", required=True, help="statistics file to write (results/refstats/DATASET/EXTRACTOR.npz)"
    )


def run(args: argparse.Namespace) -> int:
    from ncsn.data import load_split
    from ncsn.device import select_device, setup_threads
    from ncsn.errors import NcsnError
    from ncsn.metrics.extractors import build_extractor, check_extractor
    from ncsn.metrics.refstats import compute_reference, save_reference

    if not args.extractor_settings and "extractor" not in args.envelope:
        raise NcsnError(
            'ref-stats needs the extractor block: --settings \'{"extractor": {"kind": ...}}\' or --extractor-settings'
        )
    block = args.extractor_settings or args.envelope["extractor"]
    check_extractor(block, args.extractor)  # missing weights stop here, before the data are read
    setup_threads(args.threads)
    extractor = build_extractor(block, args.extractor, select_device(args.envelope["device"]))
    images, _ = load_split(args.data)
    extractor.check_images(images, str(args.data))
    stats, meta = compute_reference(images, extractor, args.data)
    save_reference(args.out, stats, meta)
    score = meta[INCEPTION_SCORE]
    print(
        f"reference statistics of {len(images)} images ({extractor.kind}); IS of the data {score['mean']:.3f} ± {score['std']:.3f} -> {args.out}"
    )
    return 0
