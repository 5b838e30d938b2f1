"""The embedded digits data set: values, shapes, stratified seeded split, meta.json, atomic output, the CLI."""

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import prepare
from sklearn.datasets import load_digits

from ncsn.data import load_meta, load_split
from ncsn.errors import NcsnError
from ncsn.settings import check_block


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits") / "digits"
    prepare("digits", {"source": "digits", "test_fraction": 0.2, "split_seed": 0}, out)
    return out


def test_shapes_values_and_labels(digits_dir):
    train_x, train_y = load_split(digits_dir / "train.npz")
    test_x, test_y = load_split(digits_dir / "test.npz")
    assert train_x.shape == (1438, 8, 8, 1) and test_x.shape == (359, 8, 8, 1)
    assert train_x.dtype == np.uint8 and train_y.dtype == np.int64
    # the 17 grey levels 0..16 map to round(v * 255 / 16)
    expected_levels = np.rint(np.arange(17) * 255 / 16).astype(np.uint8)
    assert set(np.unique(np.concatenate([train_x, test_x]))) == set(expected_levels)
    # together the splits are exactly sklearn's digits, each image with its own label
    bunch = load_digits()
    reference = {
        (np.rint(img * 255 / 16).astype(np.uint8).tobytes(), int(t)) for img, t in zip(bunch.images, bunch.target)
    }
    ours = {
        (img[..., 0].tobytes(), int(t))
        for img, t in zip(np.concatenate([train_x, test_x]), np.concatenate([train_y, test_y]))
    }
    assert ours == reference


def test_split_is_stratified(digits_dir):
    _, train_y = load_split(digits_dir / "train.npz")
    _, test_y = load_split(digits_dir / "test.npz")
    all_counts = np.bincount(np.concatenate([train_y, test_y]), minlength=10)
    test_counts = np.bincount(test_y, minlength=10)
    # every class holds its share of the test split to within one image
    assert np.all(np.abs(test_counts - all_counts * 359 / 1797) <= 1)


def test_meta_records_source_counts_hash_and_steps(digits_dir):
    meta = load_meta(digits_dir)
    assert meta["source"] == "digits" and meta["counts"] == {"train": 1438, "test": 359}
    assert meta["shape"] == [8, 8, 1] and meta["labelled"] and meta["stratified"]
    # the filled block prepare received (its envelope)
    assert meta["resolved_settings"]["split_seed"] == 0 and meta["settings"] == check_block(
        "dataset", {"source": "digits", "test_fraction": 0.2, "split_seed": 0}
    )
    assert any("255/16" in step for step in meta["preprocessing"])
    assert len(meta["content_sha256"]) == 64


def test_split_is_deterministic_and_seeded(digits_dir, tmp_path):
    again = prepare("digits", {"source": "digits", "test_fraction": 0.2, "split_seed": 0}, tmp_path / "again")
    other = prepare("digits", {"source": "digits", "test_fraction": 0.2, "split_seed": 1}, tmp_path / "other")
    assert again["content_sha256"] == load_meta(digits_dir)["content_sha256"]
    assert other["content_sha256"] != again["content_sha256"]
    assert (tmp_path / "again" / "train.npz").read_bytes() == (digits_dir / "train.npz").read_bytes()


def test_resize_and_channels(tmp_path):
    meta = prepare("d16", {"source": "digits", "image_size": 16, "channels": 3}, tmp_path / "d16")
    x, _ = load_split(tmp_path / "d16" / "train.npz")
    assert x.shape[1:] == (16, 16, 3) and meta["shape"] == [16, 16, 3]
    assert np.array_equal(x[..., 0], x[..., 2])  # grey replicated into RGB


@pytest.mark.parametrize(
    "settings, needle",
    [
        (
            {"source": "mnistt"},
            "datasets.d.source: 'mnistt' is not one of ['digits', 'mnist', 'cifar10', 'celeba', 'folder']",
        ),
        ({"test_fraction": 0.2}, "'source' is a required property"),
        (
            {"source": "digits", "test_fraction": 1.5},
            "datasets.d.test_fraction: 1.5 is greater than or equal to the maximum of 1",
        ),
        ({"source": "digits", "imagesize": 16}, "datasets.d.imagesize: unknown key; did you mean `image_size`?"),
        ({"source": "digits", "channels": 2}, "datasets.d.channels: 2 is not one of [1, 3]"),
        ({"source": "digits", "image_size": "big"}, "datasets.d.image_size: 'big' is not of type 'integer', 'null'"),
        ({"source": "digits", "split_seed": -1}, "datasets.d.split_seed: -1 is less than the minimum of 0"),
        ({"source": "digits", "test_fraction": "0.2"}, "datasets.d.test_fraction: '0.2' is not of type 'number'"),
        (
            {"source": "digits", "resize_filter": "cubic"},
            "datasets.d.resize_filter: 'cubic' is not one of ['nearest', 'bilinear'",
        ),
        ({"source": "digits", "flip": "yes"}, "datasets.d.flip: 'yes' is not of type 'boolean'"),
    ],
)
def test_bad_settings_fail_before_writing(tmp_path, settings, needle):
    with pytest.raises(NcsnError) as err:
        prepare("d", settings, tmp_path / "d")
    assert needle in str(err.value)
    assert list(tmp_path.iterdir()) == []  # neither output nor staging folder is left behind


def test_failed_rerun_keeps_complete_output(digits_dir, tmp_path):
    out = tmp_path / "keep"
    prepare("digits", {"source": "digits"}, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(NcsnError):
        prepare("digits", {"source": "digits", "test_fraction": 0}, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]


def test_load_split_errors(tmp_path):
    with pytest.raises(NcsnError, match="does not exist; create it with `python -m ncsn prepare"):
        load_split(tmp_path / "missing" / "train.npz")
    np.savez(tmp_path / "bad.npz", images=np.zeros((2, 4, 4), np.float32), labels=np.zeros(2, np.int64))
    with pytest.raises(NcsnError, match=r"images must be uint8 \(N, H, W, C\)"):
        load_split(tmp_path / "bad.npz")


def test_cli_prepares_digits(tmp_path):
    out = tmp_path / "results" / "data" / "digits"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ncsn",
            "prepare",
            "--name",
            "digits",
            "--settings",
            json.dumps({"source": "digits"}),
            "--out-dir",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "1438 train + 359 test images of 8x8x1" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == ["meta.json", "test.npz", "train.npz"]
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "ncsn",
            "prepare",
            "--name",
            "x",
            "--settings",
            '{"source": "nope"}',
            "--out-dir",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
    )
    assert (
        bad.returncode == 2
        and "datasets.x.source: 'nope' is not one of" in bad.stderr
        and "Traceback" not in bad.stderr
    )
    assert not (tmp_path / "x").exists()
