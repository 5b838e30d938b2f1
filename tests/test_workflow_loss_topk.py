"""Criterion loss_topk in the real workflow: every checkpoint gets a held-out loss, only the k best an FID job."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
from helpers import ONE_THREAD, TINY, job_counts, snakemake, write_config

pytestmark = pytest.mark.xdist_group("workflow")


@pytest.mark.slow
def test_loss_topk_scores_only_the_k_checkpoints_of_lowest_heldout_loss(tmp_path):
    config = copy.deepcopy(TINY)
    exp = config["experiments"]["tiny"]
    exp["training"] = {**exp["training"], "iterations": 30, "snapshot_freq": 10}  # 3 checkpoints
    exp["selection"] = {"criterion": "loss_topk", "k": 1, "num_samples": 20, "heldout": {"num_images": 64}}
    path = write_config(tmp_path / "config.yaml", config)
    target = "results/selection/digits/tiny/selection.json"
    result = snakemake(tmp_path, path, "--cores", "2", "--set-threads", *ONE_THREAD, "heldout_loss=1", "--", target)
    assert result.returncode == 0, result.stdout[-4000:]
    assert job_counts(result.stdout)["heldout_loss"] == 3
    assert len(list((tmp_path / "results/scores/digits/tiny").glob("*.json"))) == 1  # one FID job instead of 3
    table = pd.read_csv(tmp_path / "results/selection/digits/tiny/fid_vs_checkpoint.csv")
    assert table["heldout_loss"].notna().all() and table["fid"].notna().sum() == 1
    best_loss = table.loc[table["heldout_loss"].idxmin()]
    assert best_loss["selected"] == 1 and not pd.isna(best_loss["fid"])
