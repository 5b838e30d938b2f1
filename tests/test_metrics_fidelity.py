"""FID/IS with the digits extractor on the real scikit-learn digits, checked against both libraries' own pipelines."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import torch
import torch_fidelity
from cleanfid import fid as cleanfid
from helpers import classifier_block
from PIL import Image

from ncsn.data.digits import load as load_digits
from ncsn.errors import NcsnError
from ncsn.metrics import classifier
from ncsn.metrics.extractors import build_extractor, check_extractor
from ncsn.metrics.fidelity import SHUFFLE_SEED, RunningMoments, compare, image_statistics
from ncsn.metrics.refstats import compute_reference, extractor_for_reference, load_reference, save_reference
from ncsn.settings import check_block

# Both libraries see the same uint8 pixels through the same network here, so their FIDs differ
# only by round-off (clean-fid's scipy sqrtm vs torch-fidelity's eigenvalues).
LIBRARY_RTOL = 1e-6


@pytest.fixture(scope="module")
def digits():
    prepared = load_digits(check_block("dataset", {"source": "digits"}))
    return prepared.train, prepared.test


@pytest.fixture(scope="module")
def trained(digits, tmp_path_factory):
    torch.set_num_threads(1)
    model, report = classifier.train_classifier(
        *digits, classifier.train_settings(classifier_block({"epochs": 10, "lr": 3e-3}))
    )
    path = tmp_path_factory.mktemp("extractor") / "model.pt"
    classifier.save_classifier(path, model, report)
    return path, report


@pytest.fixture(scope="module")
def extractor(trained):
    return build_extractor({"kind": "digits"}, trained[0], torch.device("cpu"))


@pytest.fixture(scope="module")
def train_stats(digits, extractor):
    return image_statistics(digits[0][0], extractor)


def blurred(images: np.ndarray, sigma: float) -> np.ndarray:
    out = np.stack([scipy.ndimage.gaussian_filter(image[..., 0].astype(np.float64), sigma) for image in images])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)[..., None]


def uniform_noise(like: np.ndarray) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=like.shape, dtype=np.uint8)


def test_classifier_exceeds_95_percent_test_accuracy_and_round_trips(trained, digits):
    path, report = trained
    assert report["test_accuracy"] > 0.95 and report["num_test"] == len(digits[1][0])
    model, info = classifier.load_classifier(path)
    assert info["test_accuracy"] == report["test_accuracy"]
    assert classifier.accuracy(model, *digits[1]) == report["test_accuracy"]


def test_classifier_training_is_reproducible_and_leaves_the_global_rng_alone(digits):
    state = torch.get_rng_state()
    first, _ = classifier.train_classifier(
        *digits, classifier.train_settings(classifier_block({"epochs": 1, "min_accuracy": 0}))
    )
    assert torch.equal(torch.get_rng_state(), state)
    second, _ = classifier.train_classifier(
        *digits, classifier.train_settings(classifier_block({"epochs": 1, "min_accuracy": 0}))
    )
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


def test_fid_ranks_real_digits_far_below_blurred_digits_and_noise(digits, extractor, train_stats):
    test_images = digits[1][0]
    fid_test = compare(image_statistics(test_images, extractor), train_stats)["fid"]
    fid_blur = compare(image_statistics(blurred(test_images, 1.5), extractor), train_stats)["fid"]
    fid_noise = compare(image_statistics(uniform_noise(test_images), extractor), train_stats)["fid"]
    assert 0 < fid_test < fid_blur / 20 and fid_test < fid_noise / 20


def test_fid_of_a_set_against_itself_is_zero(train_stats):
    fids = compare(train_stats, train_stats)
    scale = np.trace(train_stats.torch_fidelity[1])
    assert abs(fids["fid"]) < 1e-8 * scale and abs(fids["fid_cleanfid"]) < 1e-8 * scale


def test_inception_score_of_real_digits_is_near_ten_and_far_above_noise(digits, extractor, train_stats):
    real = train_stats.inception_score()
    noise = image_statistics(uniform_noise(digits[1][0]), extractor).inception_score()
    assert real["splits"] == 10 and 8.5 < real["mean"] <= 10.0
    assert noise["mean"] < real["mean"] / 2


def test_recognisable_share_of_real_test_digits_is_recorded_and_far_above_blur_and_noise(digits, trained, extractor):
    path, report = trained
    test_images = digits[1][0]
    model, info = classifier.load_classifier(path)
    with torch.no_grad():
        logits = model(classifier.to_input(test_images))[1].double().numpy()
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    expected = float(np.mean(probabilities.max(axis=1) >= 0.9))  # independent of torch's softmax
    assert report["test_recognisable"] == pytest.approx(expected, abs=1 / len(test_images))
    assert info["test_recognisable"] == report["test_recognisable"] > 0.8
    assert extractor.identity["test_recognisable"] == report["test_recognisable"]
    assert image_statistics(test_images, extractor).recognisable == pytest.approx(expected, abs=1 / len(test_images))
    assert image_statistics(blurred(test_images, 1.5), extractor).recognisable < expected / 2
    assert image_statistics(uniform_noise(test_images), extractor).recognisable < expected / 2


class Uint8Images(torch.utils.data.Dataset):
    """uint8 NHWC array as the CHW uint8 tensors torch-fidelity reads."""

    def __init__(self, images: np.ndarray):
        self.images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def test_streamed_metrics_equal_torch_fidelity_calculate_metrics(digits, trained, extractor, train_stats):
    (train_images, _), (test_images, _) = digits
    ours = image_statistics(test_images, extractor)
    theirs = torch_fidelity.calculate_metrics(
        input1=Uint8Images(test_images),
        input2=Uint8Images(train_images),
        feature_extractor="ncsn-classifier",
        feature_extractor_weights_path=str(trained[0]),
        cuda=False,
        cache=False,
        isc=True,
        fid=True,
        verbose=False,
        save_cpu_ram=True,
    )
    # torch-fidelity keeps its statistics in float32 (np.mean of float32 features); ours are float64.
    assert compare(ours, train_stats)["fid"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-5)
    assert ours.inception_score()["mean"] == pytest.approx(theirs["inception_score_mean"], rel=1e-12)
    assert ours.inception_score()["std"] == pytest.approx(theirs["inception_score_std"], rel=1e-9)


@pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated:DeprecationWarning")  # inside clean-fid
def test_streamed_cleanfid_equals_cleanfid_compute_fid_on_image_folders(digits, extractor, train_stats, tmp_path):
    (train_images, _), (test_images, _) = digits
    for name, images in (("train", train_images), ("test", test_images)):
        (tmp_path / name).mkdir()
        for i, image in enumerate(images):
            Image.fromarray(image[..., 0]).save(tmp_path / name / f"{i:05d}.png")
    theirs = cleanfid.compute_fid(
        str(tmp_path / "test"),
        str(tmp_path / "train"),
        mode="clean",
        custom_feat_extractor=extractor.cleanfid_model,
        custom_fn_resize=extractor.cleanfid_resize,
        num_workers=0,
        device=torch.device("cpu"),
        use_dataparallel=False,
        verbose=False,
    )
    fids = compare(image_statistics(test_images, extractor), train_stats)
    # compute_fid keeps the mean in float32 (np.mean of float32 features); ours is float64.
    assert fids["fid_cleanfid"] == pytest.approx(theirs, rel=1e-5)
    assert fids["fid_cleanfid"] == pytest.approx(fids["fid"], rel=LIBRARY_RTOL)


def test_kid_and_precision_recall_equal_torch_fidelity_calculate_metrics(digits, trained, extractor, train_stats):
    """Our kept features give torch-fidelity's own KID and PRC; fed in our visiting order, KID's subsets match."""
    (train_images, _), (test_images, _) = digits
    ours = compare(image_statistics(test_images, extractor), train_stats)
    in_our_order = [
        images[np.random.RandomState(SHUFFLE_SEED).permutation(len(images))] for images in (test_images, train_images)
    ]
    theirs = torch_fidelity.calculate_metrics(
        input1=Uint8Images(in_our_order[0]),
        input2=Uint8Images(in_our_order[1]),
        feature_extractor="ncsn-classifier",
        feature_extractor_weights_path=str(trained[0]),
        cuda=False,
        cache=False,
        kid=True,
        prc=True,
        kid_subset_size=len(test_images),
        verbose=False,
    )
    assert ours["kid"]["subset_size"] == len(test_images) and ours["kid"]["subsets"] == 100
    assert ours["kid"]["mean"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4)
    assert ours["kid"]["std"] == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-3)
    assert (ours["precision"], ours["recall"]) == (theirs["precision"], theirs["recall"])
    assert ours["precision"] > 0.8 and ours["recall"] > 0.8  # held-out real digits lie on the training manifold


def test_kid_and_precision_recall_order_real_blurred_and_noise_and_cope_with_small_sets(digits, extractor, train_stats):
    test_images = digits[1][0]
    real, blur, noise = (
        compare(image_statistics(images, extractor, is_splits=0), train_stats)
        for images in (test_images[:40], blurred(test_images[:40], 1.0), uniform_noise(test_images[:40]))
    )
    assert real["kid"]["subset_size"] == 40  # torch-fidelity's 1000 capped by the 40 samples
    assert real["kid"]["mean"] < blur["kid"]["mean"] < noise["kid"]["mean"]
    assert real["precision"] > max(blur["precision"], noise["precision"])
    capped = image_statistics(test_images, extractor, is_splits=0, max_features=50)
    assert capped.features.shape == (50, 64)
    without = compare(image_statistics(test_images[:40], extractor, is_splits=0, max_features=0), train_stats)
    assert without["kid"] is None and without["precision"] is None and without["recall"] is None


def test_running_moments_equal_numpy_over_uneven_batches():
    rng = np.random.default_rng(1)
    features = (rng.normal(size=(1003, 12)) @ rng.normal(size=(12, 12)) + 1e4).astype(np.float32)
    moments = RunningMoments()
    for start in range(0, len(features), 97):
        moments.update(features[start : start + 97])
    mu, sigma = moments.statistics()
    assert np.allclose(mu, features.astype(np.float64).mean(0), rtol=0, atol=1e-9)
    assert np.allclose(sigma, np.cov(features.astype(np.float64), rowvar=False), rtol=1e-9, atol=1e-9)


def test_reference_statistics_round_trip_and_refuse_another_extractor(digits, trained, extractor, tmp_path):
    stats, meta = compute_reference(digits[0][0], extractor, "train.npz")
    save_reference(tmp_path / "ref.npz", stats, meta)
    rebuilt, back, meta_back = extractor_for_reference(tmp_path / "ref.npz", trained[0], torch.device("cpu"))
    assert rebuilt.identity == extractor.identity
    assert load_reference(tmp_path / "ref.npz")[1] == meta_back == meta and meta["num_images"] == len(digits[0][0])
    assert np.array_equal(back.torch_fidelity[1], stats.torch_fidelity[1]) and np.array_equal(
        back.cleanfid[0], stats.cleanfid[0]
    )
    assert np.array_equal(back.features, stats.features) and back.features.shape == (len(digits[0][0]), 64)
    model, report = classifier.load_classifier(trained[0])
    with torch.no_grad():
        model.head[-1].bias.add_(1.0)
    classifier.save_classifier(tmp_path / "other.pt", model, {**trained[1], "settings": trained[1]["settings"]})
    with pytest.raises(NcsnError, match="run ref-stats again"):
        extractor_for_reference(tmp_path / "ref.npz", tmp_path / "other.pt", torch.device("cpu"))


def test_digits_extractor_rejects_images_of_another_shape(extractor):
    with pytest.raises(NcsnError, match=r"reads 8x8 images \(the data set it was trained on\), got 32x32"):
        image_statistics(np.zeros((20, 32, 32, 3), dtype=np.uint8), extractor)


def test_missing_inception_weights_name_the_files_the_download_urls_and_the_config_key(tmp_path):
    with pytest.raises(NcsnError) as err:
        check_extractor({"kind": "inception", "weights": str(tmp_path / "weights-inception-2015-12-05-6726825d.pth")})
    message = str(err.value)
    for expected in (
        "weights-inception-2015-12-05-6726825d.pth",
        "inception-2015-12-05.pt",
        "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
        "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt",
        "extractors.<name>.weights",
        "extractors.<name>.cleanfid_weights",
    ):
        assert expected in message


def test_digits_extractor_without_a_model_says_how_to_train_it(tmp_path):
    with pytest.raises(NcsnError, match="train-extractor"):
        check_extractor({"kind": "digits"}, tmp_path / "model.pt")
    with pytest.raises(NcsnError, match="kind"):
        check_extractor({"kind": "vgg"})
