"""The metric commands end to end on the real digits: train-extractor, ref-stats, score, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import prepare

from ncsn.checkpoint import save_checkpoint
from ncsn.cli import main
from ncsn.models import build_model
from ncsn.schedules import make_sigmas

SAMPLING = {"sampling": {"n_steps_each": 1, "batch_size": 10}, "device": "cpu", "seed": 0}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Prepared digits, a CLI-trained extractor, reference statistics and an untrained checkpoint."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("metrics_cli")
    prepare("digits", {"source": "digits"}, root / "data")
    # A short training: the >95% accuracy of a full one is tested in test_metrics_fidelity.py.
    extractor = {
        "extractor": {"kind": "digits", "dataset": "digits", "epochs": 2, "lr": 3e-3, "min_accuracy": 0.5},
        "device": "cpu",
        "seed": 0,
    }
    assert (
        main(
            [
                "train-extractor",
                "--train",
                str(root / "data/train.npz"),
                "--test",
                str(root / "data/test.npz"),
                "--settings",
                json.dumps(extractor),
                "--out",
                str(root / "model.pt"),
                "--accuracy",
                str(root / "accuracy.json"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "ref-stats",
                "--data",
                str(root / "data/train.npz"),
                "--extractor",
                str(root / "model.pt"),
                "--settings",
                json.dumps(extractor),
                "--out",
                str(root / "ref.npz"),
                "--threads",
                "1",
            ]
        )
        == 0
    )
    spec = {"arch": "refinenet", "ngf": 8, "channels": 1, "image_size": 8, "num_classes": 10}
    schedule = {"kind": "geometric", "sigma_begin": 1.0, "sigma_end": 0.01, "num_levels": 10}
    torch.manual_seed(0)
    state = {
        "iteration": 20,
        "model_spec": spec,
        "schedule_spec": schedule,
        "sigmas": make_sigmas(schedule),
        "model": build_model(spec).state_dict(),
        "ema": None,
    }
    save_checkpoint(root / "ckpt_20.pt", state)
    return root


def test_train_extractor_records_its_test_accuracy(pipeline):
    report = json.loads((pipeline / "accuracy.json").read_text())
    assert 0.5 <= report["test_accuracy"] <= 1 and report["num_test"] == 359 and report["settings"]["epochs"] == 2
    assert report["model"] == str(pipeline / "model.pt")
    assert 0 <= report["test_recognisable"] <= 1


def test_train_extractor_below_min_accuracy_fails_and_writes_nothing(pipeline, tmp_path, capsys):
    settings = json.dumps({"extractor": {"kind": "digits", "epochs": 1, "min_accuracy": 0.999}})
    out = tmp_path / "model.pt"
    args = ["train-extractor", "--train", str(pipeline / "data/train.npz"), "--test", str(pipeline / "data/test.npz")]
    assert main([*args, "--settings", settings, "--out", str(out), "--accuracy", str(tmp_path / "a.json")]) == 2
    assert "min_accuracy" in capsys.readouterr().err and not out.exists() and not (tmp_path / "a.json").exists()


def score_checkpoint(root: Path, out: Path, samples_out: Path, *extra: str, settings: dict = SAMPLING) -> int:
    """``ncsn score`` of the pipeline's checkpoint on 20 samples, keeping the drawn images."""
    common = ["--extractor", str(root / "model.pt"), "--refstats", str(root / "ref.npz")]
    return main(
        ["score", "--checkpoint", str(root / "ckpt_20.pt"), *common, "--num-samples", "20"]
        + ["--settings", json.dumps(settings), "--out", str(out), "--samples-out", str(samples_out), "--threads", "1"]
        + list(extra)
    )


def test_score_reuses_an_earlier_score_only_of_the_same_draw(pipeline, tmp_path):
    """--reuse copies a score (and its samples) drawn with the same settings, equal to drawing again; another eps draws anew."""
    first, fresh, reused, other = (tmp_path / f"{name}.json" for name in ("first", "fresh", "reused", "other"))
    assert score_checkpoint(pipeline, first, tmp_path / "first.npz") == 0
    assert score_checkpoint(pipeline, fresh, tmp_path / "fresh.npz") == 0
    assert score_checkpoint(pipeline, reused, tmp_path / "reused.npz", "--reuse", str(first)) == 0
    first_score, fresh_score, reused_score = (json.loads(p.read_text()) for p in (first, fresh, reused))
    assert first_score["samples"] == str(tmp_path / "first.npz") and "reused_from" not in fresh_score
    assert reused_score["reused_from"] == str(first) and reused_score["samples"] == str(tmp_path / "reused.npz")
    assert reused_score["fid"] == fresh_score["fid"] and reused_score["kid"] == fresh_score["kid"]
    np.testing.assert_array_equal(np.load(tmp_path / "reused.npz")["images"], np.load(tmp_path / "fresh.npz")["images"])

    another_eps = {**SAMPLING, "sampling": {**SAMPLING["sampling"], "eps": 1e-4}}
    assert score_checkpoint(pipeline, other, tmp_path / "other.npz", "--reuse", str(first), settings=another_eps) == 0
    other_score = json.loads(other.read_text())
    assert "reused_from" not in other_score and other_score["fid"] != first_score["fid"]

    # the sweep's way: the checkpoint a selection.json names (`score --selection`), the same draw as `first`
    selection = tmp_path / "selection.json"
    assert main(["select", "--checkpoint", str(pipeline / "ckpt_20.pt"), "--out", str(selection)]) == 0
    common = ["--extractor", str(pipeline / "model.pt"), "--refstats", str(pipeline / "ref.npz"), "--num-samples", "20"]
    by_selection = ["score", "--selection", str(selection), *common, "--settings", json.dumps(SAMPLING)]
    assert main([*by_selection, "--out", str(tmp_path / "sel.json"), "--reuse", str(first)]) == 0
    assert json.loads((tmp_path / "sel.json").read_text())["reused_from"] == str(first)


def test_score_then_evaluate_of_the_same_draw_give_the_same_fid(pipeline):
    root = pipeline
    common = ["--extractor", str(root / "model.pt"), "--refstats", str(root / "ref.npz")]
    with_cleanfid = {**SAMPLING, "cleanfid": True}  # selection.cleanfid: off by default, both libraries here
    assert score_checkpoint(root, root / "score.json", root / "selection_draw.npz", settings=with_cleanfid) == 0
    score = json.loads((root / "score.json").read_text())
    assert (
        score["iteration"] == 20 and score["num_samples"] == 20 and score["fid"] > 100
    )  # an untrained model draws noise
    assert score["kid"]["subset_size"] == 20 and 0 <= score["precision"] <= 1 and 0 <= score["recall"] <= 1
    settings = {"evaluation": {"num_samples": 20, "shards": 1}, "device": "cpu"}
    again = root / "selection_metrics.json"
    assert (
        main(
            [
                "evaluate",
                "--samples",
                str(root / "selection_draw.npz"),
                *common,
                "--settings",
                json.dumps(settings),
                "--out",
                str(again),
            ]
        )
        == 0
    )
    assert json.loads(again.read_text())["fid"] == pytest.approx(score["fid"], rel=1e-12)
    assert json.loads(again.read_text())["fid_cleanfid"] == pytest.approx(score["fid_cleanfid"], rel=1e-12)
    assert json.loads(again.read_text())["kid"] == score["kid"]
    # half-sample intervals (schema defaults: 95%, 200 half-samples, seed 0): the same draw, the same intervals
    intervals = score["intervals"]
    assert (intervals["confidence"], intervals["resamples"], len(intervals["fid_replicates"])) == (0.95, 200, 200)
    assert json.loads(again.read_text())["intervals"] == intervals
    for key in ("fid", "fid_cleanfid", "kid", "precision", "recall"):
        low, high = intervals[key]
        assert low < high, key
    assert intervals["fid"][0] <= score["fid"] <= intervals["fid"][1]  # re-centred: around the value
    assert (
        intervals["covers"]["fid"].startswith("sampling noise of the n images")
        and "E FID_n" in intervals["covers"]["fid"]
    )
    assert intervals["fid_bias"] == pytest.approx(np.mean(intervals["fid_replicates"]) - score["fid"], abs=1e-4)
    # FID∞ only where the 1/N law holds: 20 images in the digits classifier's 64 dimensions are too few
    fid_infinity = json.loads(again.read_text())["fid_infinity"]
    assert fid_infinity["value"] is None and "20 images < 4 x 64" in fid_infinity["not_shown"]


def test_final_evaluation_never_reuses_the_samples_that_chose_the_checkpoint(pipeline, sample_shard):
    """Same checkpoint, seed and settings: sample (evaluation stream) and score (selection stream) draw different images."""
    root = pipeline
    common = ["--extractor", str(root / "model.pt"), "--refstats", str(root / "ref.npz")]
    chosen = root / "chosen_by.npz"
    assert score_checkpoint(root, root / "s.json", chosen) == 0
    shards = [str(root / f"shard_{k}_of_2.npz") for k in range(2)]
    for k, path in enumerate(shards):
        assert sample_shard(root / "ckpt_20.pt", path, 20, SAMPLING, shard=k, shards=2) == 0
    final = np.concatenate([np.load(p)["images"] for p in shards])
    selection = np.load(chosen)["images"]
    assert final.shape == selection.shape
    shared = {row.tobytes() for row in final} & {row.tobytes() for row in selection}
    assert not shared  # not one image of the final draw was seen by the selection
    assert json.loads(str(np.load(shards[0])["meta"]))["stream"] == "evaluation"
    assert json.loads(str(np.load(chosen)["meta"]))["stream"] == "selection"
    settings = {"evaluation": {"num_samples": 20, "shards": 2}, "device": "cpu"}
    assert (
        main(
            [
                "evaluate",
                "--samples",
                *shards,
                *common,
                "--ref-data",
                str(root / "data/train.npz"),
                "--settings",
                json.dumps(settings),
                "--out",
                str(root / "metrics.json"),
            ]
        )
        == 0
    )
    metrics = json.loads((root / "metrics.json").read_text())
    chose = json.loads((root / "s.json").read_text())
    assert metrics["fid"] != chose["fid"]
    # a score skips clean-fid unless selection.cleanfid asks for it; the final evaluation computes both by default
    assert chose["fid_cleanfid"] is None and chose["intervals"]["fid_cleanfid"] is None
    assert metrics["fid_cleanfid"] == pytest.approx(metrics["fid"], rel=1e-5)
    assert metrics["inception_score"]["splits"] == 10 and 1.0 <= metrics["inception_score"]["mean"] <= 10.0
    assert (
        metrics["num_samples"] == 20
        and metrics["extractor"]["kind"] == "classifier"
        and metrics["extractor"]["model"] == str(root / "model.pt")
    )
    assert metrics["reference"]["num_images"] == 1438 and metrics["reference"]["inception_score"]["splits"] == 10
    assert metrics["samples"]["iteration"] == 20 and metrics["samples"]["num_shards"] == 2
    # the share of samples the classifier is >= 90% sure of, recomputed from its logits; beside the real test digits' share
    from ncsn.generate import load_shards
    from ncsn.metrics.classifier import load_classifier, to_input

    model, _ = load_classifier(root / "model.pt")
    with torch.no_grad():
        probabilities = model(to_input(load_shards(shards)[0]))[1].softmax(1)
    assert metrics["recognisable"] == pytest.approx(float((probabilities.max(1).values >= 0.9).float().mean()))
    assert metrics["recognisable_real"] == json.loads((root / "accuracy.json").read_text())["test_recognisable"]


def test_evaluate_refuses_shards_that_do_not_match_the_config(pipeline, capsys, sample_shard):
    root = pipeline
    shard = root / "one.npz"
    assert sample_shard(root / "ckpt_20.pt", shard, 20, SAMPLING) == 0
    out = root / "bad_metrics.json"
    settings = json.dumps({"evaluation": {"num_samples": 50}, "device": "cpu"})
    assert (
        main(
            [
                "evaluate",
                "--samples",
                str(shard),
                "--extractor",
                str(root / "model.pt"),
                "--refstats",
                str(root / "ref.npz"),
                "--settings",
                settings,
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "evaluation.num_samples is 50" in capsys.readouterr().err and not out.exists()


def test_ref_stats_without_inception_weights_stops_before_reading_data(tmp_path, capsys):
    settings = json.dumps(
        {"extractor": {"kind": "inception", "weights": str(tmp_path / "weights-inception-2015-12-05-6726825d.pth")}}
    )
    out = tmp_path / "ref.npz"
    assert (
        main(["ref-stats", "--data", str(tmp_path / "no_such_data.npz"), "--settings", settings, "--out", str(out)])
        == 2
    )
    err = capsys.readouterr().err
    assert (
        "weights-inception-2015-12-05-6726825d.pth" in err
        and "extractors.<name>.weights" in err
        and "no_such_data" not in err
    )
    assert not out.exists()


def test_score_refuses_reference_statistics_of_another_extractor(pipeline, tmp_path, capsys):
    other = tmp_path / "model.pt"
    payload = torch.load(pipeline / "model.pt", weights_only=True)
    payload["state_dict"]["head.2.bias"] = payload["state_dict"]["head.2.bias"] + 1
    torch.save(payload, other)
    code = main(
        [
            "score",
            "--checkpoint",
            str(pipeline / "ckpt_20.pt"),
            "--extractor",
            str(other),
            "--refstats",
            str(pipeline / "ref.npz"),
            "--num-samples",
            "10",
            "--settings",
            json.dumps(SAMPLING),
            "--out",
            str(tmp_path / "s.json"),
        ]
    )
    assert code == 2 and "run ref-stats again" in capsys.readouterr().err and not (tmp_path / "s.json").exists()
    assert np.load(pipeline / "ref.npz")["mu"].shape == (64,)
