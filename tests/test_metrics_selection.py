"""Best-checkpoint selection on fixed score files: lowest FID, or the last checkpoint."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from ncsn.cli import main
from ncsn.errors import NcsnError
from ncsn.metrics.selection import iteration_from_name, select, table_csv
from ncsn.records import HELDOUT_LOSS, RUN, SCORE

SCORES = [
    {
        "checkpoint": "run/checkpoints/ckpt_5000.pt",
        "iteration": 5000,
        "fid": 80.5,
        "fid_cleanfid": 81.0,
        "num_samples": 1000,
    },
    {
        "checkpoint": "run/checkpoints/ckpt_15000.pt",
        "iteration": 15000,
        "fid": 42.25,
        "fid_cleanfid": 43.0,
        "num_samples": 1000,
    },
    {
        "checkpoint": "run/checkpoints/ckpt_10000.pt",
        "iteration": 10000,
        "fid": 42.25,
        "fid_cleanfid": 42.0,
        "num_samples": 1000,
    },
    {
        "checkpoint": "run/checkpoints/ckpt_20000.pt",
        "iteration": 20000,
        "fid": 55.0,
        "fid_cleanfid": 56.0,
        "num_samples": 1000,
    },
]


def test_fid_picks_the_lowest_and_the_earlier_of_ties():
    chosen = select(SCORES, "fid")
    assert (chosen["iteration"], chosen["checkpoint"], chosen["fid"]) == (10000, "run/checkpoints/ckpt_10000.pt", 42.25)
    assert chosen["num_candidates"] == 4


def test_last_picks_the_highest_iteration_whatever_its_fid():
    assert select(SCORES, "last")["iteration"] == 20000
    assert select([{"checkpoint": "ckpt_7.pt", "iteration": 7}], "last")["checkpoint"] == "ckpt_7.pt"


def test_table_lists_every_checkpoint_in_iteration_order_and_marks_the_choice():
    rows = list(csv.DictReader(table_csv(SCORES, select(SCORES, "fid")).splitlines()))
    assert [int(r["iteration"]) for r in rows] == [5000, 10000, 15000, 20000]
    assert [r["selected"] for r in rows] == ["0", "1", "0", "0"]
    assert float(rows[0]["fid"]) == 80.5 and float(rows[3]["fid_cleanfid"]) == 56.0


@pytest.mark.parametrize(
    ("scores", "criterion", "message"),
    [
        (SCORES, "median", "criterion must be one of"),
        ([], "fid", "no checkpoint scores"),
        ([{"checkpoint": "a", "iteration": 1}], "fid", "finite FID"),
        ([{"checkpoint": "a", "iteration": 1, "fid": float("nan")}], "fid", "finite FID"),
        ([SCORES[0], SCORES[0]], "fid", "same iteration"),
    ],
)
def test_bad_selection_input_is_a_clear_error(scores, criterion, message):
    with pytest.raises(NcsnError, match=message):
        select(scores, criterion)


def test_iteration_is_read_from_checkpoint_names():
    assert iteration_from_name("results/runs/x/checkpoints/ckpt_120000.pt") == 120000
    with pytest.raises(NcsnError, match="ckpt_<iteration>.pt"):
        iteration_from_name("model_final.pt")


def test_select_command_writes_selection_and_table(tmp_path):
    paths = []
    for score in SCORES:
        path = tmp_path / f"ckpt_{score['iteration']}.json"
        SCORE.write(path, {**dict.fromkeys(SCORE.fields), **score})
        paths.append(str(path))
    out, table = tmp_path / "sel" / "selection.json", tmp_path / "sel" / "fid_vs_checkpoint.csv"
    assert (
        main(
            [
                "select",
                "--scores",
                *paths,
                "--settings",
                '{"criterion": "fid", "num_samples": 1000}',
                "--out",
                str(out),
                "--table",
                str(table),
            ]
        )
        == 0
    )
    assert json.loads(out.read_text())["iteration"] == 10000
    assert len(table.read_text().splitlines()) == 5
    assert main(["select", "--scores", *paths, "--criterion", "last", "--out", str(out), "--table", str(table)]) == 0
    assert json.loads(out.read_text())["checkpoint"] == "run/checkpoints/ckpt_20000.pt"


def test_select_last_from_the_run_record_without_scores(tmp_path):
    run = tmp_path / "run" / "run.json"
    run.parent.mkdir()
    RUN.write(run, {**dict.fromkeys(RUN.fields), "checkpoints": ["ckpt_500.pt", "ckpt_1000.pt", "ckpt_1500.pt"]})
    out, table = tmp_path / "selection.json", tmp_path / "table.csv"
    assert (
        main(
            [
                "select",
                "--run",
                str(run),
                "--settings",
                '{"criterion": "last"}',
                "--out",
                str(out),
                "--table",
                str(table),
            ]
        )
        == 0
    )
    chosen = json.loads(out.read_text())
    assert chosen["iteration"] == 1500 and chosen["checkpoint"] == str(run.parent / "checkpoints" / "ckpt_1500.pt")


def test_select_command_fails_on_a_missing_score_file_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "selection.json"
    assert (
        main(
            ["select", "--scores", str(tmp_path / "ckpt_5.json"), "--out", str(out), "--table", str(tmp_path / "t.csv")]
        )
        == 2
    )
    assert "ncsn score" in capsys.readouterr().err and not out.exists()


LOSSES = [
    {"checkpoint": s["checkpoint"], "iteration": s["iteration"], "heldout_loss": loss}
    for s, loss in zip(SCORES, (9.0, 7.5, 6.0, 6.5))  # iterations 5000, 15000, 10000, 20000
]


def test_loss_topk_scores_only_the_k_lowest_losses_and_picks_their_lowest_fid():
    from ncsn.metrics.selection import loss_candidates, merge_by_iteration

    assert loss_candidates(LOSSES, 2) == [10000, 20000]
    only_candidates = [s for s in SCORES if s["iteration"] in (10000, 20000)]  # FID jobs for 2 of 4 checkpoints
    chosen = select(merge_by_iteration(LOSSES, only_candidates), "loss_topk", k=2)
    assert (chosen["iteration"], chosen["fid"], chosen["heldout_loss"], chosen["fid_jobs"], chosen["k"]) == (
        10000,
        42.25,
        6.0,
        2,
        2,
    )
    # with k = 1 the lowest loss wins outright; with k = 4 it equals scoring all
    assert select(merge_by_iteration(LOSSES, SCORES), "loss_topk", k=1)["iteration"] == 10000
    assert (
        select(merge_by_iteration(LOSSES, SCORES), "loss_topk", k=4)["iteration"] == select(SCORES, "fid")["iteration"]
    )
    # losses 9, 6, 7.5, 6.5 against FIDs 80.5, 42.25, 42.25, 55 (iterations 5k..20k): ranks by hand
    loss_ranks, fid_ranks = [4, 1, 3, 2], [4, 1.5, 1.5, 3]
    expected = np.corrcoef(loss_ranks, fid_ranks)[0, 1]
    assert select(merge_by_iteration(LOSSES, SCORES), "fid")["loss_fid_spearman"] == pytest.approx(expected)
    assert select(SCORES, "fid")["loss_fid_spearman"] is None
    with pytest.raises(NcsnError, match="needs a finite FID for checkpoint"):
        select(merge_by_iteration(LOSSES, SCORES[:1]), "loss_topk", k=2)
    with pytest.raises(NcsnError, match="held-out loss for every checkpoint"):
        loss_candidates(LOSSES[:3] + [{"checkpoint": "x", "iteration": 1}], 2)
    with pytest.raises(NcsnError, match="selection.k"):
        loss_candidates(LOSSES, 0)


def test_select_command_writes_candidates_then_the_table_with_losses(tmp_path):
    losses, scores = [], []
    for record in LOSSES:
        losses.append(tmp_path / f"loss_{record['iteration']}.json")
        HELDOUT_LOSS.write(losses[-1], {**dict.fromkeys(HELDOUT_LOSS.fields), **record})
    for record in SCORES:
        if record["iteration"] in (10000, 20000):
            scores.append(tmp_path / f"score_{record['iteration']}.json")
            SCORE.write(scores[-1], {**dict.fromkeys(SCORE.fields), **record})
    settings = json.dumps({"criterion": "loss_topk", "k": 2})
    assert (
        main(
            ["select", "--losses", *map(str, losses), "--settings", settings, "--candidates", str(tmp_path / "c.json")]
        )
        == 0
    )
    assert json.loads((tmp_path / "c.json").read_text())["iterations"] == [10000, 20000]
    args = ["select", "--losses", *map(str, losses), "--scores", *map(str, scores), "--settings", settings]
    assert main([*args, "--out", str(tmp_path / "sel.json"), "--table", str(tmp_path / "t.csv")]) == 0
    rows = list(csv.DictReader((tmp_path / "t.csv").read_text().splitlines()))
    assert [float(r["heldout_loss"]) for r in rows] == [9.0, 6.0, 7.5, 6.5]
    assert [r["fid"] for r in rows] == ["", "42.25", "", "55.0"]  # unscored checkpoints: empty, never 0
    assert json.loads((tmp_path / "sel.json").read_text())["iteration"] == 10000


def test_selection_stability_counts_how_often_another_checkpoint_wins_a_half_sample_redraw():
    from ncsn.metrics.selection import select

    def score(iteration, fid, replicates):
        return {
            "checkpoint": f"ckpt_{iteration}.pt",
            "iteration": iteration,
            "fid": fid,
            "intervals": {"fid": [min(replicates), max(replicates)], "fid_replicates": replicates},
        }

    scores = [score(500, 30.0, [29.0, 31.0, 28.0, 35.0]), score(1000, 31.0, [30.0, 30.0, 30.0, 30.0])]
    chosen = select(scores, "fid")
    assert chosen["iteration"] == 500
    # replicate by replicate: 500 wins (29 < 30), loses (31), wins (28), loses (35)
    stability = chosen["selection_stability"]
    assert {k: stability[k] for k in ("resamples", "instability", "win_share")} == {
        "resamples": 4,
        "instability": 0.5,
        "win_share": {500: 0.5, 1000: 0.5},
    }
    assert "not the probability that another checkpoint wins on a fresh draw" in stability["meaning"]
    assert chosen["fid_interval"] == [28.0, 35.0]
    assert select(scores, "last")["selection_stability"] is None
    assert (
        select([{k: v for k, v in s.items() if k != "intervals"} for s in scores], "fid")["selection_stability"] is None
    )
