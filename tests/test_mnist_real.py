"""The real MNIST through the pipeline's commands: prepare, a few training iterations, sampling, scoring.

Reads the four IDX files (as ``.gz`` or decompressed) from the folder ``NCSN_MNIST_ROOT`` names;
``.ci/run`` points it at the shared copy (``../shared/data/mnist``). Skipped, saying why, where the
variable is unset or the folder holds no MNIST files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from helpers import prepare

from ncsn.cli import main
from ncsn.data import load_meta, load_split
from ncsn.data.mnist import NAMES
from ncsn.data.store import write_dataset

VARIABLE = "NCSN_MNIST_ROOT"
ROOT = Path(os.environ.get(VARIABLE, ""))
if not os.environ.get(VARIABLE):
    pytest.skip(f"{VARIABLE} is unset: point it at a folder with the real MNIST's IDX files", allow_module_level=True)
if (
    not any((ROOT / name).is_file() or (ROOT / f"{name}.gz").is_file() for name in NAMES)
    and not (ROOT / "MNIST" / "raw").is_dir()
):
    pytest.skip(f"{VARIABLE}={ROOT} holds no MNIST IDX files", allow_module_level=True)

# The checks of ../shared/data/mnist/README.md (the data set's published facts).
FIRST_TRAIN_LABELS = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
FIRST_TEST_LABELS = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
TRAIN_CLASS_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.fixture(scope="module")
def mnist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mnist") / "data"
    prepare("mnist", {"source": "mnist", "root": str(ROOT)}, out)
    return out


def test_the_real_mnist_is_prepared_whole_with_its_labels(mnist):
    meta = load_meta(mnist)
    assert meta["counts"] == {"train": 60000, "test": 10000} and meta["shape"] == [28, 28, 1]
    train_images, train_labels = load_split(mnist / "train.npz")
    test_images, test_labels = load_split(mnist / "test.npz")
    assert train_images.dtype == np.uint8 and train_images.shape == (60000, 28, 28, 1)
    assert train_labels[:10].tolist() == FIRST_TRAIN_LABELS and test_labels[:10].tolist() == FIRST_TEST_LABELS
    assert np.bincount(train_labels, minlength=10).tolist() == TRAIN_CLASS_COUNTS
    assert np.bincount(test_labels, minlength=10).sum() == 10000
    # the digits are white on black, as published: the border is background, the centre ink
    assert train_images[:, 0, :, 0].mean() < 1 and train_images[:, 10:18, 10:18, 0].mean() > 60


def run(*argv: str) -> None:
    assert main(list(argv)) == 0, argv


def test_training_sampling_and_scoring_on_the_real_mnist(mnist, tmp_path):
    """A few iterations of CondRefineNet, a short sampling, then the classifier extractor (trained on a subset
    of the real training images) scores the samples against real test digits, through the real commands."""
    train, test = load_split(mnist / "train.npz"), load_split(mnist / "test.npz")
    subset = tmp_path / "subset"  # the classifier on 3000 real images: seconds, not minutes
    write_dataset(
        subset,
        {"train": (train[0][:3000], train[1][:3000]), "test": (test[0][:1000], test[1][:1000])},
        {**load_meta(mnist), "name": "mnist_subset", "counts": {"train": 3000, "test": 1000}},
    )
    extractor = {"extractor": {"kind": "classifier", "epochs": 2, "batch_size": 64, "min_accuracy": 0.8}, "seed": 0}
    model = tmp_path / "model.pt"
    run(
        "train-extractor",
        "--train",
        str(subset / "train.npz"),
        "--test",
        str(subset / "test.npz"),
        "--settings",
        json.dumps(extractor),
        "--out",
        str(model),
        "--accuracy",
        str(tmp_path / "accuracy.json"),
    )
    accuracy = json.loads((tmp_path / "accuracy.json").read_text())
    assert accuracy["test_accuracy"] >= 0.8 and accuracy["image_shape"] == [28, 28, 1]
    run(
        "ref-stats",
        "--data",
        str(subset / "test.npz"),
        "--extractor",
        str(model),
        "--settings",
        json.dumps({**extractor, "device": "cpu"}),
        "--out",
        str(tmp_path / "ref.npz"),
        "--threads",
        "1",
    )
    settings = {
        "model": {"arch": "refinenet", "ngf": 8},
        "schedule": {"kind": "geometric", "sigma_begin": 1.0, "sigma_end": 0.01, "num_levels": 10},
        "training": {"iterations": 4, "batch_size": 16, "snapshot_freq": 4, "log_every": 2},
        "device": "cpu",
        "seed": 0,
    }
    run(
        "train",
        "--data",
        str(mnist / "train.npz"),
        "--state-dir",
        str(tmp_path / "state"),
        "--out-dir",
        str(tmp_path / "run"),
        "--settings",
        json.dumps(settings),
        "--threads",
        "1",
    )
    losses = (tmp_path / "run" / "loss.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in losses] == ["iteration", "2", "4"]
    sampling = {"sampling": {"n_steps_each": 2, "batch_size": 20}, "device": "cpu", "seed": 0}
    shard = tmp_path / "shard_0_of_1.npz"
    checkpoint = tmp_path / "run" / "checkpoints" / "ckpt_4.pt"
    run(
        "sample",
        "--checkpoint",
        str(checkpoint),
        "--num-samples",
        "20",
        "--settings",
        json.dumps(sampling),
        "--out",
        str(shard),
    )
    assert np.load(shard)["images"].shape == (20, 28, 28, 1)
    run(
        "evaluate",
        "--samples",
        str(shard),
        "--extractor",
        str(model),
        "--refstats",
        str(tmp_path / "ref.npz"),
        "--settings",
        json.dumps({"evaluation": {"num_samples": 20, "shards": 1, "is_splits": 2}, "device": "cpu"}),
        "--out",
        str(tmp_path / "metrics.json"),
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["extractor"]["kind"] == "classifier" and metrics["extractor"]["image_shape"] == [28, 28, 1]
    assert metrics["fid"] > 0 and 0 <= metrics["recognisable"] <= 1
    low, high = metrics["intervals"]["recognisable"]
    assert low <= metrics["recognisable"] <= high
    assert metrics["recognisable_real"] == accuracy["test_recognisable"]
