"""``ncsn fidelity`` (your own images against a reference) and ``ncsn export`` (samples to PNG) on the real digits.

The PNG folders are written by ``export`` from real held-out digits; every number the command
prints is checked against the library computing the same metrics on the arrays directly.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import classifier_block, prepare
from PIL import Image

from ncsn.cli import main
from ncsn.data import load_split
from ncsn.generate import save_shard
from ncsn.metrics import classifier
from ncsn.metrics.extractors import build_extractor
from ncsn.metrics.fidelity import compare, image_statistics
from ncsn.metrics.refstats import compute_reference, save_reference


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Prepared digits, a briefly trained digits extractor, its reference statistics, a test-split shard."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("fidelity")
    prepare("digits", {"source": "digits"}, root / "data")
    train, train_labels = load_split(root / "data/train.npz")
    test, test_labels = load_split(root / "data/test.npz")
    settings = classifier.train_settings(
        classifier_block({"epochs": 2, "lr": 3e-3, "min_accuracy": 0.5})
    )  # short; accuracy: elsewhere
    model, report = classifier.train_classifier((train, train_labels), (test, test_labels), settings)
    classifier.save_classifier(root / "model.pt", model, report)
    extractor = build_extractor({"kind": "digits"}, root / "model.pt", torch.device("cpu"))
    stats, meta = compute_reference(train, extractor, str(root / "data/train.npz"))
    save_reference(root / "ref.npz", stats, meta)
    info = {
        "num_samples": len(test),
        "shard": 0,
        "num_shards": 1,
        "start": 0,
        "stop": len(test),
        "seed": 0,
        "sampling": {},
        "checkpoint": "x",
        "seconds": 0.0,
        "stream": "evaluation",
        "device": "cpu",
    }
    save_shard(root / "shard_0_of_1.npz", test, info)
    return root, extractor, train, test


def fidelity(root, input1, input2, out, *options: str):
    return main(
        [
            "fidelity",
            "--input1",
            str(input1),
            "--input2",
            str(input2),
            "--extractor",
            "digits",
            "--weights",
            str(root / "model.pt"),
            "--out",
            str(out),
            "--threads",
            "1",
            *options,
        ]
    )


def test_export_writes_every_sample_as_a_png_that_reads_back_identical(setup, tmp_path):
    root, _, _, test = setup
    assert main(["export", "--samples", str(root / "shard_0_of_1.npz"), "--out", str(tmp_path / "png")]) == 0
    files = sorted((tmp_path / "png").glob("*.png"))
    assert [f.name for f in files[:2]] == ["000000.png", "000001.png"] and len(files) == len(test)
    back = np.stack([np.asarray(Image.open(f)) for f in files])[..., None]
    assert np.array_equal(back, test)
    assert (
        main(["export", "--samples", str(root), "--limit", "5", "--out", str(tmp_path / "five")]) == 0
    )  # a samples folder
    assert len(list((tmp_path / "five").glob("*.png"))) == 5


def test_png_folder_against_a_prepared_data_set_uses_its_training_split_as_the_workflow(setup, tmp_path):
    """The default is the split the workflow's reference statistics use: the FID equals the one against ref-stats."""
    root, extractor, train, test = setup
    assert main(["export", "--samples", str(root / "shard_0_of_1.npz"), "--out", str(tmp_path / "png")]) == 0
    assert fidelity(root, tmp_path / "png", root / "data", tmp_path / "m.json") == 0
    got = json.loads((tmp_path / "m.json").read_text())
    assert got["input2"]["num_images"] == len(train) and got["input2"]["split"] == "train"
    expected = compare(image_statistics(test, extractor), image_statistics(train, extractor))
    assert got["fid"] == pytest.approx(expected["fid"], rel=1e-9) and got["fid_cleanfid"] == pytest.approx(
        expected["fid_cleanfid"], rel=1e-9
    )
    assert got["kid"] == pytest.approx(expected["kid"]) and got["kid"]["subset_size"] == 359
    assert (got["precision"], got["recall"]) == pytest.approx((expected["precision"], expected["recall"]))
    assert got["inception_score"] == pytest.approx(image_statistics(test, extractor).inception_score())
    assert fidelity(root, tmp_path / "png", root / "ref.npz", tmp_path / "ref.json") == 0
    assert json.loads((tmp_path / "ref.json").read_text())["fid"] == pytest.approx(got["fid"], rel=1e-9)


def test_the_split_option_picks_the_test_split_or_all_images(setup, tmp_path, capsys):
    root, extractor, train, test = setup
    shard = root / "shard_0_of_1.npz"
    assert fidelity(root, shard, root / "data", tmp_path / "all.json", "--split", "all") == 0
    got = json.loads((tmp_path / "all.json").read_text())
    assert got["input2"]["num_images"] == len(train) + len(test) == 1797 and got["input2"]["split"] == "all"
    expected = compare(image_statistics(test, extractor), image_statistics(np.concatenate([train, test]), extractor))
    assert got["fid"] == pytest.approx(expected["fid"], rel=1e-9)
    assert fidelity(root, shard, root / "data", tmp_path / "test.json", "--split", "test") == 0
    same = json.loads((tmp_path / "test.json").read_text())
    assert same["input2"]["num_images"] == len(test) and abs(same["fid"]) < 1e-6  # the same images
    with pytest.raises(SystemExit):
        fidelity(root, shard, root / "data", tmp_path / "x.json", "--split", "valid")
    assert "invalid choice: 'valid'" in capsys.readouterr().err


def test_npz_against_saved_statistics_and_a_bare_mu_sigma_file(setup, tmp_path, capsys):
    root, extractor, train, test = setup
    assert fidelity(root, root / "shard_0_of_1.npz", root / "ref.npz", tmp_path / "ref.json") == 0
    got = json.loads((tmp_path / "ref.json").read_text())
    expected = compare(image_statistics(test, extractor), image_statistics(train, extractor))
    assert got["fid"] == pytest.approx(expected["fid"], rel=1e-9) and got["kid"]["mean"] == pytest.approx(
        expected["kid"]["mean"]
    )
    assert got["input2"]["statistics"] and got["input2"]["num_images"] == len(train)
    assert "KID" in capsys.readouterr().out
    with np.load(root / "ref.npz") as data:
        np.savez(tmp_path / "bare.npz", mu=data["mu"], sigma=data["sigma"])
    assert fidelity(root, root / "shard_0_of_1.npz", tmp_path / "bare.npz", tmp_path / "bare.json") == 0
    bare = json.loads((tmp_path / "bare.json").read_text())
    assert bare["fid"] == pytest.approx(expected["fid"], rel=1e-9)
    assert bare["fid_cleanfid"] is None and bare["kid"] is None and bare["precision"] is None  # empty, never 0


def test_missing_weights_and_unreadable_inputs_are_clear_errors(setup, tmp_path, capsys):
    root = setup[0]
    code = main(
        [
            "fidelity",
            "--input1",
            str(root / "shard_0_of_1.npz"),
            "--input2",
            str(root / "data"),
            "--weights",
            str(tmp_path / "weights-inception-2015-12-05-6726825d.pth"),
        ]
    )
    assert code == 2 and "weights-inception-2015-12-05-6726825d.pth" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert fidelity(root, tmp_path / "empty", root / "data", tmp_path / "x.json") == 2
    assert "no PNG/JPEG images found" in capsys.readouterr().err and not (tmp_path / "x.json").exists()
    np.savez(tmp_path / "other.npz", pictures=np.zeros((3, 8, 8, 1), np.uint8))
    assert fidelity(root, tmp_path / "other.npz", root / "data", tmp_path / "x.json") == 2
    assert "has no 'images' array" in capsys.readouterr().err
