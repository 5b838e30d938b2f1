"""``python -m ncsn train`` end to end: outputs, loss going down, re-publishing, and surviving SIGKILL."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import train

from ncsn.checkpoint import list_checkpoints, load_checkpoint
from ncsn.cli import main


def settings(iterations: int, **training) -> dict:
    training = {"iterations": iterations, "batch_size": 32, "snapshot_freq": 20, "log_every": 10, **training}
    return {"model": {"arch": "refinenet", "ngf": 8}, "training": training, "device": "cpu", "seed": 0}


def cli(digits: Path, root: Path, config: dict) -> list[str]:
    return [
        "train",
        "--data",
        str(digits),
        "--state-dir",
        str(root / "state"),
        "--out-dir",
        str(root / "out"),
        "--threads",
        "1",
        "--settings",
        json.dumps(config),
    ]


def test_cli_trains_publishes_and_the_loss_decreases(digits, tmp_path, capsys):
    assert main(cli(digits, tmp_path, settings(40))) == 0
    captured = capsys.readouterr()
    assert "trained 40 iterations" in captured.out and "published 2 checkpoint(s)" in captured.out
    assert "iteration 20/40  loss" in captured.err  # periodic log lines when stderr is not a terminal
    out, state = tmp_path / "out", tmp_path / "state"
    for name in ("ckpt_20.pt", "ckpt_40.pt"):
        published, snapshot = (out / "checkpoints" / name).stat(), (state / name).stat()
        assert published.st_ino == snapshot.st_ino  # hard link, no second copy
    with open(out / "loss.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["iteration"]) for r in rows] == [10, 20, 30, 40]
    assert list(rows[0]) == ["iteration", "loss", *(f"loss_level_{i}" for i in range(10)), "it_per_s"]
    first, last = rows[0], rows[-1]
    assert float(last["loss"]) < 0.95 * float(first["loss"])
    assert float(last["loss_level_0"]) < 0.6 * float(first["loss_level_0"])  # the largest noise level learns fastest
    assert all(float(r["it_per_s"]) > 0 for r in rows)
    record = json.loads((out / "run.json").read_text())
    assert record["iterations"] == 40 and record["seed"] == 0 and record["device"]["type"] == "cpu"
    assert record["settings"]["model"] == {
        "arch": "refinenet",
        "ngf": 8,
        "channels": 1,
        "image_size": 8,
        "num_classes": 10,
    }
    assert record["settings"]["training"]["lr"] == 1e-3 and record["settings"]["training"]["beta1"] == 0.9
    assert record["checkpoints"] == ["ckpt_20.pt", "ckpt_40.pt"] and record["it_per_s"] > 0
    assert record["versions"]["torch"] == torch.__version__

    # a finished run only re-publishes (e.g. after Snakemake deleted the outputs of the job)
    (out / "run.json").unlink()
    stamp = (state / "ckpt_40.pt").stat().st_mtime_ns
    assert main(cli(digits, tmp_path, settings(40))) == 0
    assert "already complete at iteration 40" in capsys.readouterr().err
    assert json.loads((out / "run.json").read_text())["wall_time_s"] == record["wall_time_s"]
    assert (state / "ckpt_40.pt").stat().st_mtime_ns == stamp


def test_cli_trains_with_sliced_score_matching(digits, tmp_path, capsys):
    # the official code's `algo: ssm`: annealed SSM-VR instead of DSM, a few iterations on digits
    assert main(cli(digits, tmp_path / "ssm", settings(6, algo="ssm", snapshot_freq=3, log_every=3))) == 0
    assert main(cli(digits, tmp_path / "dsm", settings(6, snapshot_freq=3, log_every=3))) == 0
    capsys.readouterr()
    record = json.loads((tmp_path / "ssm" / "out" / "run.json").read_text())
    assert record["settings"]["training"]["algo"] == "ssm" and record["checkpoints"] == ["ckpt_3.pt", "ckpt_6.pt"]
    with open(tmp_path / "ssm" / "out" / "loss.csv") as handle:
        ssm_rows = list(csv.DictReader(handle))
    with open(tmp_path / "dsm" / "out" / "loss.csv") as handle:
        dsm_rows = list(csv.DictReader(handle))
    assert all(torch.isfinite(torch.tensor(float(r["loss"]))) for r in ssm_rows)
    # same data, levels and initialisation, another objective: the logged losses differ
    assert [r["loss"] for r in ssm_rows] != [r["loss"] for r in dsm_rows]
    ssm = load_checkpoint(tmp_path / "ssm" / "out" / "checkpoints" / "ckpt_6.pt")["model"]
    dsm = load_checkpoint(tmp_path / "dsm" / "out" / "checkpoints" / "ckpt_6.pt")["model"]
    assert any(not torch.equal(ssm[k], dsm[k]) for k in ssm if ssm[k].is_floating_point())
    assert main(cli(digits, tmp_path / "bad", settings(2, algo="ism"))) == 2
    assert "training.algo: 'ism' is not one of ['dsm', 'ssm']" in capsys.readouterr().err


def test_cli_reports_bad_settings_without_a_traceback(digits, tmp_path, capsys):
    assert (
        main(cli(digits, tmp_path, {**settings(4), "device": "cuda" if not torch.cuda.is_available() else "tpu"})) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("ncsn train: error: device") and "Traceback" not in err


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_from_its_last_snapshot(digits, tmp_path):
    killed = tmp_path / "killed"
    config = settings(10_000, snapshot_freq=2, log_every=2)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ncsn", *cli(digits, killed, config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while not (killed / "state" / "ckpt_4.pt").exists():
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "no snapshot within 240 s"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    last = list_checkpoints(killed / "state")[-1][0]
    # nothing published before the end: only the live loss log is in the output folder
    assert last >= 4 and sorted(p.name for p in (killed / "out").iterdir()) == ["loss.csv"]

    # resume to two iterations past the last snapshot, and compare with an uninterrupted run
    target = settings(last + 2, snapshot_freq=2, log_every=2)
    log: list[str] = []
    train(digits, killed / "state", killed / "out", target, threads=1, log=log.append)
    assert log[0].startswith("resuming from") and f"ckpt_{last}.pt" in log[0]
    train(digits, tmp_path / "straight" / "state", tmp_path / "straight" / "out", target, threads=1, log=[].append)
    resumed = load_checkpoint(killed / "state" / f"ckpt_{last + 2}.pt")
    straight = load_checkpoint(tmp_path / "straight" / "state" / f"ckpt_{last + 2}.pt")
    assert resumed["model"].keys() == straight["model"].keys()
    assert all(torch.equal(resumed["model"][k], straight["model"][k]) for k in straight["model"])
    moments_a, moments_b = resumed["optimizer"]["state"], straight["optimizer"]["state"]
    assert moments_a.keys() == moments_b.keys()
    assert all(torch.equal(moments_a[p][k], moments_b[p][k]) for p in moments_b for k in moments_b[p])
