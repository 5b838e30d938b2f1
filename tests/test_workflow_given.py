"""Experiments without training: a ``checkpoint:`` block skips train, score and select in the real workflow.

One real run on the digits with a given (untrained, random-weight) checkpoint of ours: sampling,
evaluation and the results table happen, no training job runs, the table's training cells stay
empty. The official format is planned (dry run): an official checkpoint is 28x28 or 32x32, which
the digits extractor cannot score.
"""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
import torch
from helpers import ONE_THREAD, ROOT, TINY, job_counts, plan, snakemake, write_config
from reference.official_refinenet import OfficialCondRefineNetDilated

from ncsn.checkpoint import save_checkpoint
from ncsn.models import build_model
from ncsn.schedules import make_sigmas

pytestmark = pytest.mark.xdist_group("workflow")


def given_config(checkpoint: dict) -> dict:
    config = copy.deepcopy(TINY)
    exp = config["experiments"].pop("tiny")
    exp.pop("training")
    exp["checkpoint"] = checkpoint
    config["experiments"]["given"] = exp
    return config


@pytest.mark.slow
def test_given_checkpoint_is_sampled_evaluated_and_reported_without_training(tmp_path):
    spec = {"arch": "refinenet", "channels": 1, "image_size": 8, "ngf": 4, "num_classes": 3}
    schedule = {"kind": "geometric", "sigma_begin": 1.0, "sigma_end": 0.01, "num_levels": 3}
    torch.manual_seed(0)
    state = {
        "iteration": 777,
        "model_spec": spec,
        "schedule_spec": schedule,
        "sigmas": make_sigmas(schedule),
        "model": build_model(spec).state_dict(),
        "ema": None,
    }
    save_checkpoint(tmp_path / "mine.pt", state)
    config = write_config(tmp_path / "config.yaml", given_config({"path": str(tmp_path / "mine.pt")}))
    result = snakemake(tmp_path, config, "--cores", "2", "--set-threads", *ONE_THREAD)
    assert result.returncode == 0, result.stdout[-4000:]
    counts = job_counts(result.stdout)
    assert counts["given_checkpoint"] == 1 and counts["sample"] == 2 and counts["evaluate"] == 1
    assert not {"train", "score", "select", "import_official"} & set(counts)
    selection = json.loads((tmp_path / "results/selection/digits/given/selection.json").read_text())
    assert (
        selection["criterion"] == "given"
        and selection["iteration"] == 777
        and selection["checkpoint"] == str(tmp_path / "mine.pt")
    )
    metrics = json.loads((tmp_path / "results/eval/digits/given/metrics.json").read_text())
    assert metrics["samples"]["checkpoint"] == str(tmp_path / "mine.pt") and metrics["num_samples"] == 40
    table = pd.read_csv(tmp_path / "results/report/results.csv")
    ours = table[table["experiment"] == "given"].iloc[0]
    assert ours["selected_checkpoint"] == 777 and pd.isna(ours["fid_selection"]) and ours["fid"] > 0
    assert ours["kid_mean"] == pytest.approx(metrics["kid"]["mean"]) and 0 <= ours["precision"] <= 1
    timing = pd.read_csv(tmp_path / "results/report/timing.csv")
    row = timing[timing["experiment"] == "given"].iloc[0]
    assert pd.isna(row["train_it_per_s"]) and pd.isna(row["train_iterations"]) and row["seconds_per_1000_samples"] > 0
    assert not (tmp_path / "results/runs").exists()


def test_official_checkpoint_plans_an_import_and_no_training(tmp_path):
    model = torch.nn.DataParallel(OfficialCondRefineNetDilated(3, 4, 10))
    torch.save([model.state_dict(), {}], tmp_path / "checkpoint.pth")
    block = {"path": str(tmp_path / "checkpoint.pth"), "format": "official", "official_dataset": "cifar10", "ngf": 4}
    config = write_config(tmp_path / "config.yaml", given_config(block))
    counts = plan(tmp_path, config)
    assert counts["import_official"] == 1 and counts["given_checkpoint"] == 1 and counts["sample"] == 2
    assert not {"train", "score", "select"} & set(counts)
    unknown = given_config(dict(block))
    del unknown["experiments"]["given"]["checkpoint"]["official_dataset"]  # defaults to the source: digits
    result = snakemake(tmp_path, write_config(tmp_path / "unknown.yaml", unknown), "-n")
    assert result.returncode != 0
    assert "official NCSN configs are cifar10, celeba and mnist, got 'digits'" in result.stdout
    missing = given_config({**block, "path": str(tmp_path / "nope.pth")})
    result = snakemake(tmp_path, write_config(tmp_path / "missing.yaml", missing), "-n")
    assert "checkpoint.path: file" in result.stdout and "nope.pth" in result.stdout


def test_paper_official_config_plans_the_cifar10_row_without_training(tmp_path):
    """config/paper_official.yaml as shipped: import, 10 sampling shards, evaluation, report; nothing trains."""
    (tmp_path / "checkpoints/ncsn_cifar10").mkdir(parents=True)
    torch.save(
        [torch.nn.DataParallel(OfficialCondRefineNetDilated(3, 4, 10)).state_dict(), {}],
        tmp_path / "checkpoints/ncsn_cifar10/checkpoint.pth",
    )
    (tmp_path / "data/cifar10").mkdir(parents=True)
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights/weights-inception-2015-12-05-6726825d.pth").touch()
    counts = plan(tmp_path, ROOT / "config/paper_official.yaml")
    assert (
        counts["import_official"] == 1
        and counts["sample"] == 10
        and counts["evaluate"] == 1
        and counts["report_tables"] == 1
    )
    assert not {"train", "score", "select", "heldout_loss"} & set(counts)
