"""``python -m ncsn train-extractor``: train the digits classifier that serves as FID/IS feature extractor."""

from __future__ import annotations

import argparse

from ncsn.commands.options import add_settings_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", required=True, help="prepared training split (results/data/digits/train.npz)")
    parser.add_argument(
        "--test", required=True, help="prepared test split; its accuracy is recorded and must exceed min_accuracy"
    )
    parser.add_argument("--out", required=True, help="model file to write (results/extractors/digits/model.pt)")
    parser.add_argument("--accuracy", "--report", dest="accuracy", required=True, help="accuracy report JSON to write")
    add_settings_argument(
        parser,
        'JSON {"extractor": {"kind": "digits", "epochs": 20, ...}, "seed": 0} or the extractor block itself; '
        "its keys and defaults: the extractor block of config/README.md",
    )


def run(args: argparse.Namespace) -> int:
    import torch

    from ncsn.data import load_split
    from ncsn.errors import NcsnError
    from ncsn.metrics.digits_classifier import save_classifier, train_classifier, train_settings
    from ncsn.records import EXTRACTOR_ACCURACY

    block = dict(args.settings.get("extractor", args.settings))
    if block.get("kind", "digits") != "digits":
        raise NcsnError(
            f"train-extractor trains the digits extractor only; kind {block.get('kind')!r} uses pretrained weights"
        )
    if "seed" not in block and "seed" in args.settings:
        block["seed"] = args.settings["seed"]
    opts = train_settings(block)  # filled and checked: unknown keys fail before the data are read
    torch.set_num_threads(1)  # a tiny network: more threads only add overhead
    model, report = train_classifier(load_split(args.train), load_split(args.test), opts)
    report.update(train=str(args.train), test=str(args.test), model=str(args.out))
    save_classifier(args.out, model, report)
    EXTRACTOR_ACCURACY.write(args.accuracy, report)
    print(f"digits extractor: test accuracy {report['test_accuracy']:.4f} on {report['num_test']} images -> {args.out}")
    return 0
