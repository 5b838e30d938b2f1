"""The workflow on a real SLURM cluster through ``workflow/profiles/slurm`` and the executor plugin.

Needs a running cluster (``tests/slurm/cluster.sh up`` gives a one-node one); skipped otherwise.
One tiny digits experiment runs twice with the same seed, locally and on SLURM, while the
SLURM training job's first attempt gets a 1-minute time limit: SLURM kills it, the retry
resumes from its last snapshot, and the results must equal the local run bit for bit. The
profile's choices hold: the `localrules` (prepare, select) run on the submit host, every other
job in SLURM, and the per-checkpoint `score` jobs go in groups of GROUP_SIZE per submission.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
EXPERIMENT, DATASET = "tiny", "digits"
# slurmctld checks time limits every 30 s, so a 1-minute job is cut 60-90 s after it starts:
# training is sized to last TRAIN_SECONDS at the measured speed, with a snapshot every
# TRAIN_SECONDS / SNAPSHOTS s so that one exists before the cut (the job's own start-up,
# Snakemake and torch imports, takes 10-50 s of the minute on a busy machine).
FIRST_ATTEMPT_MINUTES = 1
TRAIN_SECONDS = 120
SNAPSHOTS = 12
RUN_TIMEOUT_S = 1500
FAILED_LOG = re.compile(r"^Logfile [^\n]*:\n={80}\n.*?^={80}$", re.M | re.S)
SUBMITTED = re.compile(r"Job (\S+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")
LOG_KIND = re.compile(r"/(rule|group)_(\w+?)/")
# rules the Snakefile declares `localrules` that this test's target needs
LOCAL_RULES = ["prepare", "select"]
GROUP_SIZE = 10


def _slurm_partition() -> str | None:
    """The default partition of a reachable cluster with a usable node, else None."""
    if not shutil.which("sbatch") or not shutil.which("sinfo"):
        return None
    try:
        if subprocess.run(["scontrol", "ping"], capture_output=True, timeout=10).returncode:
            return None
        rows = subprocess.run(["sinfo", "-h", "-o", "%P %a %t"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for partition, avail, state in (row.split() for row in rows.splitlines() if row.strip()):
        if partition.endswith("*") and avail == "up" and state.rstrip("*~#") in {"idle", "mix", "alloc"}:
            return partition[:-1]
    return None


CLUSTER = REPO / "tests/slurm/cluster.sh"
# Opt-in: let the test bring a one-node cluster up (and down again) itself, e.g. in CI.
AUTOSTART = os.environ.get("NCSN_SLURM_AUTOSTART") == "1"
pytestmark = [pytest.mark.slurm, pytest.mark.slow]


@pytest.fixture(scope="module")
def partition():
    """The cluster's default partition; starts the one-node cluster when AUTOSTART asks for it."""
    found, started = _slurm_partition(), False
    if found is None and AUTOSTART:
        up = subprocess.run([CLUSTER, "up"], capture_output=True, text=True, timeout=600)
        if up.returncode:
            pytest.fail(f"{CLUSTER} up failed:\n{up.stdout}{up.stderr}")
        found, started = _slurm_partition(), True
    if found is None:
        pytest.skip(
            "no SLURM cluster is up (sinfo shows no default partition with a usable node); start a "
            "one-node cluster with `sudo tests/slurm/cluster.sh up`, or set NCSN_SLURM_AUTOSTART=1 "
            "(as root) to let this test start and stop one"
        )
    yield found
    if started:
        subprocess.run([CLUSTER, "down"], check=True, capture_output=True, timeout=120)


def _env() -> dict[str, str]:
    """The test's Python first on PATH (the rules call `python -m ncsn`), one torch thread."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def _training_speed(tmp: Path) -> float:
    """Iterations per second of the tiny model on this machine now (20 iterations, 1 thread)."""
    data = tmp / "data"
    settings = _config(20, 20)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ncsn",
            "prepare",
            "--name",
            DATASET,
            "--out-dir",
            data,
            "--settings",
            json.dumps(settings["datasets"][DATASET]),
        ],
        check=True,
        env=_env(),
        capture_output=True,
    )
    exp = settings["experiments"][EXPERIMENT]
    train = {k: exp[k] for k in ("model", "schedule", "training")} | {"device": "cpu", "seed": 0}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ncsn",
            "train",
            "--data",
            data / "train.npz",
            "--state-dir",
            tmp / "state",
            "--out-dir",
            tmp / "run",
            "--settings",
            json.dumps(train),
            "--threads",
            "1",
        ],
        check=True,
        env=_env(),
        capture_output=True,
    )
    return json.loads((tmp / "run" / "run.json").read_text())["it_per_s"]


def _config(iterations: int, snapshot_freq: int) -> dict:
    return {
        "device": "cpu",
        "seed": 0,
        "datasets": {DATASET: {"source": "digits", "test_fraction": 0.2}},
        "extractors": {"digits": {"kind": "digits", "dataset": DATASET, "epochs": 5, "min_accuracy": 0.5}},
        "experiments": {
            EXPERIMENT: {
                "dataset": DATASET,
                "extractor": "digits",
                "model": {"arch": "refinenet", "ngf": 8},
                "schedule": {"kind": "geometric", "sigma_begin": 1.0, "sigma_end": 0.01, "num_levels": 10},
                "training": {"iterations": iterations, "batch_size": 32, "snapshot_freq": snapshot_freq},
                "sampling": {"method": "annealed", "n_steps_each": 2, "eps": 2.0e-5},
                "selection": {"criterion": "fid", "num_samples": 100},
                "evaluation": {"num_samples": 200, "shards": 1},
            }
        },
    }


TARGETS = [f"results/eval/{DATASET}/{EXPERIMENT}/metrics.json"]
# Same thread count on both sides (CPU results are bit-identical only then), and memory
# that a small node can hold, so that independent jobs run side by side.
COMMON = ["--max-threads", "1"]
SLURM_RESOURCES = [
    f"train:runtime={FIRST_ATTEMPT_MINUTES} if attempt == 1 else 60",
    *(
        f"{rule}:mem_mb=2000"
        for rule in ("prepare", "train", "score", "heldout_loss", "sample", "evaluate", "ref_stats", "train_extractor")
    ),
]
# With device cpu no GPU limit stacks a group's score jobs in series: a per-submission memory
# cap of one job does (mem_mb is a per-submission resource), so a group never asks for more
# CPUs than the node has.
SLURM_GROUPING = ["--group-components", f"score={GROUP_SIZE}", "--resources", "mem_mb=2000"]


def _start(command: list, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(command, env=_env(), stdout=out, stderr=subprocess.STDOUT)


def _finish(proc: subprocess.Popen, log: Path) -> str:
    """Output of a snakemake run; past RUN_TIMEOUT_S it is interrupted (it cancels its SLURM jobs)."""
    try:
        proc.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
        pytest.fail(f"snakemake ran past {RUN_TIMEOUT_S} s:\n{log.read_text()[-6000:]}")
    return log.read_text()


def _slurm_states(job_ids: list[str]) -> dict[str, str]:
    """Final SLURM state per job id: from the job-completion log when accounting is off, else sacct."""
    accounting = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True).stdout
    completion = ["-c"] if re.search(r"AccountingStorageType\s*=\s*accounting_storage/none", accounting) else []
    out = subprocess.run(
        ["sacct", *completion, "-n", "-P", "-X", "-o", "JobID,State", "-j", ",".join(job_ids)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {jid: state.split()[0] for jid, state in (line.split("|") for line in out.splitlines() if line)}


def _checkpoint_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a saved file (weights, optimiser and RNG states), by its path in the nesting."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    flat = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, torch.Tensor):
            flat[prefix] = value
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}", item)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                walk(f"{prefix}[{i}]", item)

    walk("", state)
    return flat


def _without_timing(metrics: dict) -> dict:
    """A JSON record minus what differs between equal runs: timings, and file hashes (torch.save
    writes the temporary file's name into the archive, so equal weights need not hash equal)."""
    timing = re.compile(r"time|seconds|per_s|wall|host|version|sha256", re.I)
    return {k: (_without_timing(v) if isinstance(v, dict) else v) for k, v in metrics.items() if not timing.search(k)}


def test_workflow_runs_on_slurm_resumes_a_timed_out_training_and_matches_a_local_run(
    tmp_path: Path, partition: str
) -> None:
    rate = _training_speed(tmp_path / "calibration")
    snapshot_freq = max(1, math.ceil(TRAIN_SECONDS / SNAPSHOTS * rate))
    config = _config(SNAPSHOTS * snapshot_freq, snapshot_freq)
    runs = {}
    for side in ("local", "slurm"):
        runs[side] = tmp_path / side
        runs[side].mkdir()
        (runs[side] / "config.yaml").write_text(yaml.safe_dump(config))

    local_cmd = [
        *SNAKEMAKE,
        *TARGETS,
        "--directory",
        runs["local"],
        "--configfile",
        runs["local"] / "config.yaml",
        "--cores",
        "1",
        *COMMON,
    ]
    slurm_cmd = [
        *SNAKEMAKE,
        *TARGETS,
        "--directory",
        runs["slurm"],
        "--configfile",
        runs["slurm"] / "config.yaml",
        "--profile",
        REPO / "workflow/profiles/slurm",
        *COMMON,
        "--default-resources",
        f"slurm_partition={partition}",
        # No slurmdbd on a test cluster: follow jobs with squeue instead of sacct.
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-no-account",
        "--set-resources",
        *SLURM_RESOURCES,
        *SLURM_GROUPING,
    ]
    # Both at once: the local run uses one core, the one-node cluster the others.
    local, slurm = _start(local_cmd, tmp_path / "local.log"), _start(slurm_cmd, tmp_path / "slurm.log")
    try:
        slurm_out, local_out = _finish(slurm, tmp_path / "slurm.log"), _finish(local, tmp_path / "local.log")
    finally:
        for proc in (slurm, local):
            if proc.poll() is None:
                proc.kill()
    # The failed attempt's own log (show-failed-logs) holds the job step's "localrule" lines.
    main_out = FAILED_LOG.sub("", slurm_out)
    assert slurm.returncode == 0, f"the SLURM run failed:\n{slurm_out[-6000:]}"
    assert local.returncode == 0, f"the local run failed:\n{local_out[-6000:]}"

    # Every job of the local run also ran on the SLURM side: the localrules in the Snakemake
    # process, the score jobs in groups, every other one as a SLURM job of its own.
    local_jobs = sorted(re.findall(r"^localrule (\w+):", local_out, re.M))
    assert sorted(re.findall(r"^localrule (\w+):", main_out, re.M)) == LOCAL_RULES, (
        "localrules ran elsewhere, or more ran locally"
    )
    submissions = [
        (job, slurm_id, *LOG_KIND.search(log).groups()) for job, slurm_id, log in SUBMITTED.findall(main_out)
    ]
    singles = {job: name for job, _, kind, name in submissions if kind == "rule"}
    # a group's log folder is group_{group id}_{group id} (plugin 2.8.0): group_score_score
    groups = {job for job, _, kind, name in submissions if kind == "group" and name.split("_")[0] == "score"}
    # Each checkpoint's FID (score) and held-out loss (heldout_loss) jobs share the group.
    scores, heldouts = local_jobs.count("score"), local_jobs.count("heldout_loss")
    assert scores == heldouts == SNAPSHOTS, local_jobs
    assert len(groups) == math.ceil((scores + heldouts) / GROUP_SIZE), submissions
    assert not {"score", "heldout_loss"} & set(singles.values())
    grouped = [*["score"] * scores, *["heldout_loss"] * heldouts]
    assert sorted([*singles.values(), *LOCAL_RULES, *grouped]) == local_jobs, slurm_out[-6000:]

    # SLURM itself reports them: the train job timed out once, every last attempt completed.
    states = _slurm_states([slurm_id for _, slurm_id, _, _ in submissions])
    attempts: dict[str, list[str]] = {}
    for job, slurm_id, kind, name in submissions:
        attempts.setdefault(f"{name} ({kind} job {job})", []).append(states.get(slurm_id, "NOT IN SLURM'S RECORDS"))
    for name, seen in attempts.items():
        expected = ["TIMEOUT", "COMPLETED"] if name.startswith("train ") else ["COMPLETED"]
        assert seen == expected, f"{name}: SLURM states {seen}, expected {expected} (all jobs: {attempts})"

    # The retry resumed from the snapshot the killed attempt left.
    run_dir = f"results/runs/{DATASET}/{EXPERIMENT}"
    record = json.loads((runs["slurm"] / run_dir / "run.json").read_text())
    assert len(record["sessions"]) == 2, record["sessions"]
    resumed_at = record["sessions"][1]["start_iteration"]
    assert 0 < resumed_at < config["experiments"][EXPERIMENT]["training"]["iterations"]
    assert resumed_at % snapshot_freq == 0
    log = (runs["slurm"] / f"results/logs/train/{DATASET}/{EXPERIMENT}.log").read_text()
    assert "resuming from" in log and f"iteration {resumed_at} of" in log, log

    # Same seeds, same results: every checkpoint tensor, the samples and the metrics.
    checkpoints = sorted((runs["local"] / run_dir / "checkpoints").glob("ckpt_*.pt"))
    checkpoints.append(runs["local"] / "results/extractors/digits/model.pt")
    assert [p.name for p in checkpoints[:-1]] == sorted(
        p.name for p in (runs["slurm"] / run_dir / "checkpoints").glob("ckpt_*.pt")
    )
    for path in checkpoints:
        ours, theirs = _checkpoint_tensors(path), _checkpoint_tensors(runs["slurm"] / path.relative_to(runs["local"]))
        assert ours.keys() == theirs.keys()
        for key in ours:
            assert torch.equal(ours[key], theirs[key]), (
                f"{path.name}: {key} differs between the local and the SLURM run"
            )
    for shard in sorted((runs["local"] / f"results/samples/{DATASET}/{EXPERIMENT}").glob("*.npz")):
        with np.load(shard) as ours, np.load(runs["slurm"] / shard.relative_to(runs["local"])) as theirs:
            assert ours.files == theirs.files
            for key in ours.files:
                if ours[key].dtype.kind in "US":  # a JSON record, with timings
                    assert _without_timing(json.loads(ours[key].item())) == _without_timing(
                        json.loads(theirs[key].item())
                    )
                else:
                    np.testing.assert_array_equal(ours[key], theirs[key], err_msg=f"{shard.name}: {key}")
    metrics = [_without_timing(json.loads((runs[side] / TARGETS[0]).read_text())) for side in ("local", "slurm")]
    assert metrics[0] == metrics[1]
    # the grouped score jobs scored every checkpoint as the local ones did, and select agrees
    for path in sorted((runs["local"] / f"results/scores/{DATASET}/{EXPERIMENT}").glob("*.json")):
        ours, theirs = (
            _without_timing(json.loads(p.read_text())) for p in (path, runs["slurm"] / path.relative_to(runs["local"]))
        )
        assert ours == theirs, path.name
    selection = f"results/selection/{DATASET}/{EXPERIMENT}/selection.json"
    assert _without_timing(json.loads((runs["local"] / selection).read_text())) == _without_timing(
        json.loads((runs["slurm"] / selection).read_text())
    )
