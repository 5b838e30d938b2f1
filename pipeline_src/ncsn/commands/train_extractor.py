"""``python -m ncsn train-extractor``: train the classifier of a labelled data set that serves as FID/IS feature extractor."""

from __future__ import annotations

import argparse

from ncsn.commands.options import add_settings_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--train", required=True, help="prepared training split of a labelled data set (results/data/mnist/train.npz)"
    )
    parser.add_argument(
        "--test", required=True, help="prepared test split; its accuracy is recorded and must exceed min_accuracy"
    )
    parser.add_argument("--out", required=True, help="model file to write (results/extractors/NAME/model.pt)")
    parser.add_argument("--accuracy", "--report", dest="accuracy", required=True, help="accuracy report JSON to write")
    add_settings_argument(
        parser,
        "train-extractor",
        'JSON {"extractor": {"kind": "classifier", "epochs": 20, "seed": 0, ...}, "device": "auto", "seed": 0}; '
        "the extractor's keys and defaults: the extractor block of config/README.md",
    )


def run(args: argparse.Namespace) -> int:
    import torch

    from ncsn.data import load_split
    from ncsn.errors import NcsnError
    from ncsn.metrics.classifier import save_classifier, train_classifier, train_settings
    from ncsn.records import EXTRACTOR_ACCURACY

    block = args.envelope["extractor"]
    if block["kind"] != "classifier":
        raise NcsnError(
            f"train-extractor trains the classifier extractor only; kind {block['kind']!r} uses pretrained weights"
        )
    opts = train_settings(block)
    train, test = load_split(args.train), load_split(args.test)
    # 8x8 digits: a tiny network, where more threads only add overhead; larger images use the job's threads
    torch.set_num_threads(1 if train[0].shape[1] * train[0].shape[2] <= 64 else torch.get_num_threads())
    model, report = train_classifier(train, test, opts)
    report.update(train=str(args.train), test=str(args.test), model=str(args.out))
    save_classifier(args.out, model, report)
    EXTRACTOR_ACCURACY.write(args.accuracy, report)
    print(
        f"classifier extractor: test accuracy {report['test_accuracy']:.4f} on {report['num_test']} images -> {args.out}"
    )
    return 0
