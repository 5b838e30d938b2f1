"""What a filled config implies (ncsn.settings.implied) is computed once: a change of the checkpoint cadence
reaches the workflow's plan, the trainer's published checkpoints and the estimate alike."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from helpers import TINY, plan, tiny, train, write_config

from ncsn.costs import CostModel
from ncsn.seeds import workflow_config
from ncsn.settings import is_published, published_iterations, reuses_selection_score, scored_count


@pytest.mark.parametrize(
    ("iterations", "freq", "published"),
    [(5, 2, [2, 4, 5]), (6, 2, [2, 4, 6]), (3, 10, [3]), (20, 7, [7, 14, 20])],
)
def test_published_checkpoints_are_the_cadence_and_the_last(iterations, freq, published):
    training = {"iterations": iterations, "snapshot_freq": freq}
    assert published_iterations(training) == published
    assert [it for it in range(1, iterations + 1) if is_published(it, training)] == published


def test_the_selection_scores_all_the_k_best_or_none():
    assert [scored_count({"criterion": c, "k": 2}, 5) for c in ("fid", "loss_topk", "last")] == [5, 2, 0]


def test_a_cadence_change_reaches_the_plan_the_trainer_and_the_estimate(digits, tmp_path):
    """One training block (5 iterations, a snapshot every 2): the workflow plans a held-out loss and a score
    job per published checkpoint, the trainer publishes those checkpoints and the cost model counts them."""
    training = {"iterations": 5, "snapshot_freq": 2, "batch_size": 16}
    expected = published_iterations(training)
    config = copy.deepcopy(TINY)
    config["experiments"]["tiny"]["training"] = training
    counts = plan(tmp_path, write_config(tmp_path / "config.yaml", config))
    assert counts["heldout_loss"] == counts["score"] == len(expected) == 3

    settings = tiny(5)
    assert settings["training"]["snapshot_freq"] == 2
    record = train(digits, tmp_path / "state", tmp_path / "out", settings, threads=1, log=[].append)
    published = sorted(int(p.stem.split("_")[1]) for p in (tmp_path / "out" / "checkpoints").glob("ckpt_*.pt"))
    assert published == expected and record["iterations"] == 5

    model = CostModel(workflow_config(config), data_root=Path(tmp_path / "no-data"))
    assert model.experiment("tiny").checkpoints == len(expected)


def test_only_the_cell_with_the_selection_s_own_draw_reuses_its_score():
    exp = {
        "selection": {"criterion": "fid", "k": 3, "num_samples": 100},
        "training": {"iterations": 10, "snapshot_freq": 5},
        "sampling": {"eps": 2e-5, "n_steps_each": 100},
    }
    own, other = dict(exp["sampling"]), {**exp["sampling"], "n_steps_each": 10}
    assert reuses_selection_score(exp, own, 100)
    assert not reuses_selection_score(exp, other, 100)  # another T: drawn afresh
    assert not reuses_selection_score(exp, own, 50)  # another sample count
    assert not reuses_selection_score({**exp, "selection": {**exp["selection"], "criterion": "last"}}, own, 100)
    assert not reuses_selection_score({**exp, "checkpoint": {"path": "given.pt"}}, own, 100)  # nothing scored
