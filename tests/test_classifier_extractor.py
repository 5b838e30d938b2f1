"""The classifier extractor at other sizes than 8x8: MNIST-shaped (28x28x1) and CIFAR-shaped (32x32x3) labelled data.

The images are ten class prototypes (fixed random patterns) under heavy per-image noise, so a
classifier that learns reaches a high test accuracy and one that does not stays near 10%.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import classifier_block

from ncsn.metrics import classifier
from ncsn.metrics.extractors import build_extractor
from ncsn.metrics.fidelity import compare, image_statistics


def prototype_data(shape: tuple[int, int, int], per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` noisy copies of each of ten fixed prototypes (prototypes seeded by the shape alone)."""
    prototypes = np.random.default_rng(sum(shape)).uniform(40, 215, (10, *shape))
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), per_class)
    images = prototypes[labels] + rng.normal(0, 60, (len(labels), *shape))
    return np.clip(images, 0, 255).round().astype(np.uint8), labels.astype(np.int64)


@pytest.fixture(scope="module", params=[(28, 28, 1), (32, 32, 3)], ids=["mnist-shaped", "cifar-shaped"])
def trained(request, tmp_path_factory):
    torch.set_num_threads(1)
    shape = request.param
    train, test = prototype_data(shape, 100, seed=1), prototype_data(shape, 10, seed=2)
    opts = classifier.train_settings(classifier_block({"epochs": 4, "batch_size": 32, "lr": 3e-3, "min_accuracy": 0.9}))
    model, report = classifier.train_classifier(train, test, opts)
    path = tmp_path_factory.mktemp("classifier") / "model.pt"
    classifier.save_classifier(path, model, report)
    return shape, train, test, path, report


def test_it_learns_the_classes_at_the_data_sets_own_size_and_channels(trained):
    shape, _, test, path, report = trained
    assert report["test_accuracy"] >= 0.9 and report["image_shape"] == list(shape)
    model, info = classifier.load_classifier(path)
    assert model.image_shape == shape and info["test_accuracy"] == report["test_accuracy"]
    assert model.body[0].in_channels == shape[2]
    features, logits = model(classifier.to_input(test[0][:5]))
    assert features.shape == (5, 64) and logits.shape == (5, 10)


def test_fid_is_kid_and_recognisable_in_its_features_agree_between_the_libraries(trained):
    shape, train, test, path, _ = trained
    extractor = build_extractor({"kind": "classifier"}, path, torch.device("cpu"))
    assert extractor.identity["image_shape"] == list(shape) and extractor.classifies_data
    ours = image_statistics(test[0], extractor, is_splits=2)
    reference = image_statistics(train[0][::2], extractor, is_splits=0)
    metrics = compare(ours, reference)
    assert metrics["fid_cleanfid"] == pytest.approx(metrics["fid"], rel=1e-5)  # same network, no resize
    assert 1.0 < ours.inception_score()["mean"] <= 10.0 and 0.5 <= ours.recognisable <= 1.0
    # a set against itself: FID ~ 0; a set of three of the ten classes: far from the reference
    itself = compare(reference, reference)["fid"]
    fewer_classes = image_statistics(train[0][1::2][train[1][1::2] < 3], extractor, is_splits=0)
    assert itself == pytest.approx(0, abs=1e-6) and compare(fewer_classes, reference)["fid"] > 5 * metrics["fid"]


def test_grey_and_rgb_inputs_are_converted_to_the_channels_it_reads(trained):
    shape, _, test, path, _ = trained
    model, _ = classifier.load_classifier(path)
    grey = torch.rand(4, 1, *shape[:2])
    rgb = grey.expand(-1, 3, -1, -1)
    assert model.adapt(rgb).shape[1] == shape[2] and model.adapt(grey).shape[1] == shape[2]
    # grey replicated to RGB reads as the grey image itself, up to float32 rounding of the channel mix carried
    # through the network (1.3e-6 seen on logits of order 10; the thread count changes the summation order)
    torch.testing.assert_close(model(model.adapt(rgb))[1], model(model.adapt(grey))[1], rtol=1e-5, atol=1e-5)


def test_images_of_another_size_are_refused_naming_both_sizes(trained):
    shape, _, _, path, _ = trained
    extractor = build_extractor({"kind": "classifier"}, path, torch.device("cpu"))
    with pytest.raises(Exception, match=rf"reads {shape[0]}x{shape[1]} images .* got 8x8"):
        image_statistics(np.zeros((4, 8, 8, shape[2]), dtype=np.uint8), extractor)


def test_at_8x8_it_is_the_digits_classifier_the_default_has_always_used():
    """The same layers in the same order (so the same initialisation from a seed) as the 8x8 digits network:
    the embedded default's numbers stay what they were (docs/results.md)."""
    net = classifier.ClassifierNet((8, 8, 1), 64, 10, 0.3)
    shapes = [tuple(p.shape) for p in net.parameters()]
    assert shapes == [
        (16, 1, 3, 3),
        (16,),
        (32, 16, 3, 3),
        (32,),
        (64, 32, 3, 3),
        (64,),
        (64, 256),
        (64,),
        (10, 64),
        (10,),
    ]


def test_the_former_kind_name_digits_reads_as_classifier():
    """Configs written for the digits extractor keep working: the same block, filled under the current name."""
    from ncsn.settings import check_block, check_config

    assert check_block("extractor", {"kind": "digits"}) == check_block("extractor", {"kind": "classifier"})
    config = check_config(
        {
            "datasets": {"digits": {"source": "digits"}},
            "extractors": {"digits": {"kind": "digits", "epochs": 3}},
            "experiments": {"tiny": {"dataset": "digits", "extractor": "digits"}},
        }
    )
    assert config["extractors"]["digits"]["kind"] == "classifier" and config["extractors"]["digits"]["epochs"] == 3
