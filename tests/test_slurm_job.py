"""Training against a wall-time limit: stop with a snapshot, resume, and end as if never stopped."""

from __future__ import annotations

import pytest
from helpers import RESUMABLE, assert_identical, tiny, train

from ncsn.checkpoint import list_checkpoints, load_checkpoint
from ncsn.slurm import parse_time_left, stop_rule
from ncsn.train import StoppedEarly


@pytest.mark.parametrize(
    "text, seconds",
    [("0:45", 45), ("12:03", 723), ("1:02:03", 3723), ("2-01:00:00", 176400), ("UNLIMITED", None), ("", None)],
)
def test_squeue_time_left_is_read_in_seconds(text, seconds):
    assert parse_time_left(text) == seconds


def test_stop_rule_keeps_the_margin_and_two_iterations_in_hand(monkeypatch):
    monkeypatch.setattr("time.time", lambda: 1000.0)
    assert stop_rule(None, 30.0) is None
    stop = stop_rule(1040.0, margin=30.0)
    assert not stop(1, 4.0)  # 1000 + 30 + 8 < 1040
    assert stop(1, 5.0)  # 1000 + 30 + 10 >= 1040


def test_a_training_stopped_twice_off_its_snapshot_cadence_ends_bit_identical(digits, tmp_path):
    settings = tiny(9, snapshot_freq=4, log_every=3)
    straight = train(digits, tmp_path / "a/state", tmp_path / "a/out", settings, threads=1, log=[].append)
    for stop_at in (3, 6):  # iteration 3: inside the first snapshot interval; 6: inside the second
        with pytest.raises(StoppedEarly, match=f"stopped at iteration {stop_at} of 9"):
            train(
                digits,
                tmp_path / "b/state",
                tmp_path / "b/out",
                settings,
                threads=1,
                log=[].append,
                stop=lambda it, _seconds, at=stop_at: it == at,
            )
        # the stop-early snapshot supersedes the one before it; cadence snapshots stay
        assert [it for it, _ in list_checkpoints(tmp_path / "b/state")] == ([3] if stop_at == 3 else [4, 6])
    resumed = train(digits, tmp_path / "b/state", tmp_path / "b/out", settings, threads=1, log=[].append)
    assert [s["start_iteration"] for s in resumed["sessions"]] == [0, 3, 6]
    # only the cadence snapshots are published, and the stop-early one is gone from the state dir
    assert resumed["checkpoints"] == straight["checkpoints"] == ["ckpt_4.pt", "ckpt_8.pt", "ckpt_9.pt"]
    assert [it for it, _ in list_checkpoints(tmp_path / "b/state")] == [4, 8, 9]
    for name in straight["checkpoints"]:
        a, b = (load_checkpoint(tmp_path / side / "out/checkpoints" / name) for side in "ab")
        for key in RESUMABLE:
            assert_identical(a[key], b[key], f"{name}: {key}")
        assert_identical([r[:-1] for r in a["loss_log"]], [r[:-1] for r in b["loss_log"]], "loss_log")


def test_the_train_rule_passes_the_configured_stop_margin(tmp_path):
    """cluster.stop_margin reaches the train command (`--stop-margin`); its default is the schema's."""
    from helpers import TINY, snakemake, write_config

    from ncsn.settings import defaults

    for cluster, margin in (({}, defaults("cluster")["stop_margin"]), ({"stop_margin": 75}, 75)):
        config = write_config(tmp_path / "config.yaml", {**TINY, "cluster": cluster})
        result = snakemake(tmp_path, config, "-n", "-p", "--forcerun", "train", "--until", "train")
        assert result.returncode == 0, result.stdout[-3000:]
        assert f"--stop-margin {margin} " in result.stdout, result.stdout[-3000:]
