"""The workflow on a real SLURM cluster with GPUs, partitions and time limits, through
``workflow/profiles/slurm`` (as a workflow profile, beside the test cluster's own site profile,
``tests/slurm/site``) and its head-process script.

Needs a running cluster (``tests/slurm/cluster.sh up`` gives a one-node one: two GRES GPUs, a
default ``cpu`` partition and a ``gpu`` partition whose MaxTime is a few minutes); skipped
otherwise. One tiny digits experiment runs twice with the same seed, locally and on SLURM, with
``device: auto``: GPU rules ask SLURM for a GPU and, finding no CUDA, compute on the CPU, so the
two runs must agree bit for bit. On the SLURM side, in one run:

- the Snakemake head process runs as a SLURM job (``workflow/profiles/slurm/head.sbatch``) in
  the CPU partition, and the ``localrules`` (prepare, select) run inside it;
- every GPU job goes to the GPU partition, which only the site profile names (its
  ``default-resources``), with a GPU request (``--gpus=1``) and gets a GPU of its own: SLURM's records (``scontrol -d show job``, polled while it runs) and the job's own log
  (``ncsn`` logs ``SLURM_JOB_GPUS``/``CUDA_VISIBLE_DEVICES``) agree; two GPU jobs overlap in time
  on different GPUs; the CPU-only job (train_extractor) asks for no GPU and runs in the CPU
  partition; no job ever waits for a time or partition limit;
- training needs more than the GPU partition's MaxTime: it runs as a chain of at least three
  submissions, each stopping with a snapshot (exit 75) before its limit, the next resuming;
- the first head job has a time limit shorter than the workflow: Slurm's early SIGUSR1 (the
  script's ``--signal``) makes it cancel its jobs and end before the limit, leaving nothing
  running; a second head job finishes the workflow;
- one training submission is pre-empted with ``scontrol requeue`` (SIGTERM, SIGKILL after the
  cluster's 5-second ``KillWait``) and, once it runs again, is sent ``scancel --signal=TERM``
  (whatever the training's length: both happen within seconds of a session's start): each time it
  saves a resume point where it is, and the next session starts there (no iteration lost);
- CPUs and memory per job come from the config's ``cluster`` block (no ``--max-threads``);
- the per-checkpoint ``score``/``heldout_loss`` jobs go in groups of GROUP_SIZE per submission;
- a job that times out is retried with more time: the ``ref_stats`` job (1 minute,
  ``cluster.runtime``; it runs beside the training, so this costs no wall time) is frozen
  (SIGSTOP) by the test, Slurm ends it at its limit (TIMEOUT), and its retry asks for 2 minutes.
Then one GPU job reruns with ``cluster.gpu_request: gres`` and must have asked for ``--gres``.

Before it, a run whose requests no node can meet (the rules' default threads on a node smaller than
them, a job's memory, a group of score jobs over ``cluster.max_runtime``) stops in seconds, naming
each, with nothing submitted.
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
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "workflow/profiles/slurm"
# The test cluster's own profile, as a site has one: status command, account, a default partition.
SITE = REPO / "tests/slurm/site"
PROFILES = ["--profile", str(SITE), "--workflow-profile", str(PROFILE)]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
EXPERIMENT, DATASET = "tiny", "digits"
# The test cluster's partitions (tests/slurm/cluster.sh); another cluster names its own.
GPU_PARTITION = os.environ.get("NCSN_SLURM_GPU_PARTITION", "gpu")
CPU_PARTITION = os.environ.get("NCSN_SLURM_CPU_PARTITION", "cpu")
# Training sized to last TRAIN_SECONDS at the calibrated speed: with a 2-minute MaxTime, job
# start-up and the stop margin (ncsn.slurm.MARGIN_S), a submission trains at most about 80 s (less
# under load: jobs train beside the local run). The cut head's training (10-60 s) and the requeued
# job's two runs (each to a loss row, every 10 iterations, and a signal: a few seconds) leave more
# than 80 s, so the submission after them stops before its limit. The signals come seconds into a
# session: a faster machine shortens the chain, never them.
TRAIN_SECONDS = 120
MIN_SUBMISSIONS = 3
SNAPSHOTS = 4
GROUP_SIZE = 2
RUN_TIMEOUT_S = 1500
# The first head job's time limit (minutes) and how early Slurm warns it (sbatch --signal; Slurm
# checks every 30 s or so): it is cancelled 70-100 s after it starts, with its first jobs running.
HEAD_LIMIT_MIN, HEAD_WARNING_S = 3, 100
ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING"}
ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED"}
SUBMITTED = re.compile(r"Job (\S+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")
LOG_KIND = re.compile(r"/(rule|group)_(\w+?)/")
PLACEMENT = re.compile(r"^ncsn: SLURM job (.*)$", re.M)
LOCAL_RULES = ["prepare", "select"]
GPU_RULES = {"train", "ref_stats", "score", "heldout_loss", "sample", "evaluate"}
CPU_RULES = {"train_extractor"}
# Why a job may wait: for a free CPU/GPU, or (requeued) for its begin time. Never for a limit.
HARMLESS_WAITS = {"None", "Resources", "Priority", "BeginTime"}
EXIT_RESUME = 75
CLUSTER = REPO / "tests/slurm/cluster.sh"
AUTOSTART = os.environ.get("NCSN_SLURM_AUTOSTART") == "1"
pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _scontrol(*args: str) -> str:
    return subprocess.run(["scontrol", *args], capture_output=True, text=True, timeout=30).stdout


def _partitions() -> dict[str, float] | None:
    """Partition -> MaxTime in minutes (inf when unlimited) of a reachable cluster with a usable node."""
    if not shutil.which("sbatch") or not shutil.which("scontrol"):
        return None
    try:
        if subprocess.run(["scontrol", "ping"], capture_output=True, timeout=10).returncode:
            return None
        states = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=10).stdout
        if not {s.rstrip("*~#") for s in states.split()} & {"idle", "mix", "alloc"}:
            return None
        found = {}
        for line in _scontrol("-o", "show", "partition").splitlines():
            fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
            found[fields["PartitionName"]] = _minutes(fields["MaxTime"])
        return found
    except (OSError, subprocess.TimeoutExpired, KeyError):
        return None


def _minutes(limit: str) -> float:
    """SLURM's [days-]hours:minutes:seconds (or UNLIMITED) in minutes."""
    if limit in ("UNLIMITED", "INFINITE"):
        return math.inf
    days, _, rest = limit.rpartition("-")
    h, m, s = (int(x) for x in rest.split(":"))
    return int(days or 0) * 1440 + h * 60 + m + s / 60


@pytest.fixture(scope="module")
def partitions():
    found, started = _partitions(), False
    if found is None and AUTOSTART:
        up = subprocess.run([CLUSTER, "up"], capture_output=True, text=True, timeout=600)
        if up.returncode:
            pytest.fail(f"{CLUSTER} up failed:\n{up.stdout}{up.stderr}")
        found, started = _partitions(), True
    if found is None or not {GPU_PARTITION, CPU_PARTITION} <= found.keys():
        pytest.skip(
            f"no SLURM cluster with partitions {GPU_PARTITION!r} and {CPU_PARTITION!r} is up; start the "
            "one-node test cluster with `sudo tests/slurm/cluster.sh up`, set NCSN_SLURM_AUTOSTART=1 (as root) "
            "to let this test start and stop one, or name yours in NCSN_SLURM_GPU_PARTITION/NCSN_SLURM_CPU_PARTITION"
        )
    if not math.isfinite(found[GPU_PARTITION]) or found[GPU_PARTITION] > 5:
        pytest.skip(f"partition {GPU_PARTITION} needs a MaxTime of a few minutes (has {found[GPU_PARTITION]})")
    yield found
    if started:
        subprocess.run([CLUSTER, "down"], check=True, capture_output=True, timeout=120)


def _env() -> dict[str, str]:
    """The test's Python first on PATH (the rules call `python -m ncsn`), one torch thread, and the explicit
    opt-out of the GPU-job check (ncsn.device.check_no_unused_gpus): the cluster's GPUs are dummies."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", NCSN_ALLOW_CPU_FALLBACK="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def _training_speed(tmp: Path) -> float:
    """Iterations per second of the tiny model on this machine now (20 iterations, 1 thread)."""
    data = tmp / "data"
    settings = _config(20, 20, {})
    ncsn = [sys.executable, "-m", "ncsn"]
    dataset = json.dumps(settings["datasets"][DATASET])
    subprocess.run(
        [*ncsn, "prepare", "--name", DATASET, "--out-dir", data, "--settings", dataset],
        check=True,
        env=_env(),
        capture_output=True,
    )
    exp = settings["experiments"][EXPERIMENT]
    train = json.dumps({k: exp[k] for k in ("model", "schedule", "training")} | {"device": "cpu", "seed": 0})
    subprocess.run(
        [*ncsn, "train", "--data", data / "train.npz", "--state-dir", tmp / "state", "--out-dir", tmp / "run"]
        + ["--settings", train, "--threads", "1"],
        check=True,
        env=_env(),
        capture_output=True,
    )
    return json.loads((tmp / "run" / "run.json").read_text())["it_per_s"]


def _config(iterations: int, snapshot_freq: int, cluster: dict) -> dict:
    return {
        "device": "auto",
        "seed": 0,
        "cluster": cluster,
        "datasets": {DATASET: {"source": "digits", "test_fraction": 0.2}},
        "extractors": {"digits": {"kind": "digits", "dataset": DATASET, "epochs": 5, "min_accuracy": 0.5}},
        "experiments": {
            EXPERIMENT: {
                "dataset": DATASET,
                "extractor": "digits",
                "model": {"arch": "refinenet", "ngf": 8},
                "schedule": {"kind": "geometric", "sigma_begin": 1.0, "sigma_end": 0.01, "num_levels": 10},
                # a loss row every 10 iterations: the test's signals come seconds into a session
                "training": {
                    "iterations": iterations,
                    "batch_size": 32,
                    "snapshot_freq": snapshot_freq,
                    "log_every": 10,
                },
                "sampling": {"method": "annealed", "n_steps_each": 2, "eps": 2.0e-5},
                "selection": {"criterion": "fid", "num_samples": 100},
                "evaluation": {"num_samples": 200, "shards": 1},
            }
        },
    }


TARGETS = [f"results/eval/{DATASET}/{EXPERIMENT}/metrics.json"]
# One thread per job on both sides (CPU results are bit-identical only with the same count): locally
# with --max-threads, on the cluster from the config's cluster block (cluster.threads), with memory
# a small node holds two of next to the head job (cluster.mem_mb).
LOCAL_THREADS = ["--max-threads", "1"]
ONE_CPU = {"threads": dict.fromkeys(sorted(GPU_RULES | CPU_RULES), 1)}
ONE_CPU["mem_mb"] = dict.fromkeys(sorted(GPU_RULES | CPU_RULES), 1500)
# How the site profile's settings (tests/slurm/site) would otherwise be written: the status command
# (no slurmdbd), no account. The group size is the test's.
TEST_CLUSTER = ["--group-components", f"score={GROUP_SIZE}"]


class Jobs:
    """Every SLURM job as ``scontrol -d show job`` saw it while the test polled: the latest record,
    each GPU index it held, and every (state, reason) it passed through."""

    def __init__(self) -> None:
        self.latest: dict[str, dict[str, str]] = {}
        self.gpus: dict[str, set[str]] = {}
        self.waits: dict[str, set[tuple[str, str]]] = {}

    def poll(self) -> None:
        for line in _scontrol("-d", "-o", "show", "job").splitlines():
            fields = dict(item.split("=", 1) for item in line.split() if "=" in item and not item.startswith("="))
            if "JobId" not in fields:
                continue
            jid = fields["JobId"]
            self.latest[jid] = fields
            self.waits.setdefault(jid, set()).add((fields.get("JobState", ""), fields.get("Reason", "")))
            self.gpus.setdefault(jid, set()).update(re.findall(r"GRES=gpu:\d+\(IDX:(\d+)\)", line))

    def state(self, jid: str) -> str:
        return self.latest.get(jid, {}).get("JobState", "")


def _submit_head(log: Path, snakemake_args: list[str], *sbatch: str) -> str:
    """The head process: the shipped sbatch script, in the CPU partition, from the repository root."""
    return subprocess.run(
        ["sbatch", "--parsable", f"--partition={CPU_PARTITION}", "--mem=1500", f"--output={log}", *sbatch]
        + [f"--chdir={REPO}", str(PROFILE / "head.sbatch"), *snakemake_args],
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


class Timeout:
    """A job that runs past its limit: the test freezes (SIGSTOP) the ``ncsn ref-stats`` process of the
    first ``ref_stats`` SLURM job of a head, so Slurm ends it at its time limit (TIMEOUT); the
    workflow retries it with more time (Snakemake's ``attempt`` in the runtime function)."""

    def __init__(self) -> None:
        self.frozen: str | None = None

    def step(self, jobs: Jobs, head_log: Path) -> None:
        if self.frozen:
            return
        text = head_log.read_text() if head_log.exists() else ""
        ref_stats = [jid for _, jid, path in SUBMITTED.findall(text) if "/rule_ref_stats/" in path]
        if not ref_stats or jobs.state(ref_stats[0]) != "RUNNING":
            return
        for process in psutil.process_iter(["cmdline"]):
            try:
                if process.info["cmdline"][1:4] == ["-m", "ncsn", "ref-stats"] and (
                    process.environ().get("SLURM_JOB_ID") == ref_stats[0]
                ):
                    process.send_signal(signal.SIGSTOP)
                    self.frozen = ref_stats[0]
            except (psutil.Error, TypeError):
                continue


class Preemptions:
    """What a cluster does to a running training, done by the test once it has trained a while (its
    log shows a loss row after its own placement line): ``scontrol requeue`` of the first (the test
    lifts the requeue's 2-minute begin-time hold), then, once that job runs again and has trained a
    while, ``scancel --signal=TERM`` of it. Both come seconds into a session, so neither depends on
    how long the training is."""

    def __init__(self, train_log: Path) -> None:
        self.train_log = train_log
        self.requeued: str | None = None
        self.released = False
        self.terminated: str | None = None

    def _trained_a_while(self, jid: str, since: float = 0.0) -> bool:
        """Whether the log shows a loss row after ``jid``'s placement line, written after ``since``
        (the job's latest start: a requeued job's rerun truncates the log it then writes)."""
        if not self.train_log.exists() or self.train_log.stat().st_mtime < since:
            return False
        _, placed, after = self.train_log.read_text().rpartition(f"SLURM_JOB_ID={jid} ")
        return bool(placed) and "\niteration " in after

    def step(self, jobs: Jobs, head_log: Path) -> None:
        text = head_log.read_text() if head_log.exists() else ""
        trains = [jid for _, jid, path in SUBMITTED.findall(text) if "/rule_train/" in path]
        running = [jid for jid in trains if jobs.state(jid) == "RUNNING" and self._trained_a_while(jid)]
        if self.requeued is None and running:
            if subprocess.run(["scontrol", "requeue", running[0]], capture_output=True).returncode == 0:
                self.requeued = running[0]
        elif self.requeued and not self.released and jobs.state(self.requeued) == "PENDING":
            subprocess.run(["scontrol", "update", f"JobId={self.requeued}", "StartTime=now"], check=True)
            self.released = True
        elif self.released and self.terminated is None and jobs.state(self.requeued) == "RUNNING":
            record = jobs.latest[self.requeued]
            started = datetime.fromisoformat(record["StartTime"]).timestamp()
            if record.get("Restarts") == "1" and self._trained_a_while(self.requeued, since=started + 1):
                if subprocess.run(["scancel", "--signal=TERM", self.requeued], capture_output=True).returncode == 0:
                    self.terminated = self.requeued


def _wait_head(head: str, jobs: Jobs, log: Path, *interventions: Preemptions | Timeout) -> None:
    """Poll until the head job ends, doing the ``interventions`` on the way."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        jobs.poll()
        if jobs.state(head) in ENDED:
            return
        if time.monotonic() > deadline:
            subprocess.run(["scancel", head])  # head.sbatch turns SIGTERM into Snakemake's SIGINT: it cancels its jobs
            time.sleep(20)
            pytest.fail(f"the head job ran past {RUN_TIMEOUT_S} s:\n{log.read_text()[-6000:]}")
        for intervention in interventions:
            intervention.step(jobs, log)
        time.sleep(1)


def _left_running(jobs: Jobs, job_ids: list[str], seconds: float = 60) -> list[str]:
    """Which of ``job_ids`` are still queued or running ``seconds`` from now (at once when none is)."""
    deadline = time.monotonic() + seconds
    while True:
        jobs.poll()
        active = [jid for jid in job_ids if jobs.state(jid) in ACTIVE]
        if not active or time.monotonic() > deadline:
            return active
        time.sleep(1)


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


def _placements(run: Path) -> dict[str, list[dict[str, str]]]:
    """SLURM job id -> what each command of that job logged of its placement (the jobs' own view)."""
    seen: dict[str, list[dict[str, str]]] = {}
    for log in (run / "results/logs").rglob("*.log"):
        for line in PLACEMENT.findall(log.read_text()):
            fields = dict(item.split("=", 1) for item in line.split())
            seen.setdefault(fields["SLURM_JOB_ID"], []).append(fields | {"log": str(log.relative_to(run))})
    return seen


def _slurm_gpus(placement: dict[str, str]) -> set[str]:
    """The GPU indices SLURM's variables name in a job's placement line (a job step may see only one)."""
    return {placement[k] for k in ("SLURM_JOB_GPUS", "SLURM_STEP_GPUS") if placement.get(k)}


def _interval(record: dict[str, str]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(record["StartTime"]), datetime.fromisoformat(record["EndTime"])


def test_requests_no_node_can_meet_stop_the_run_in_seconds_naming_each_before_anything_is_submitted(
    tmp_path: Path, partitions: dict[str, float]
) -> None:
    """The rules' default threads on a node smaller than them (train declares 4: lowered to the node's
    CPUs and said so), a job's memory that no node has, and a group of 8 score jobs asking for more
    than cluster.max_runtime: the run stops in ``onstart``, naming each, and submits nothing."""
    cpus = max(
        int(n)
        for n in subprocess.run(
            ["sinfo", "-h", "-N", "-p", GPU_PARTITION, "-o", "%c"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    cluster = {"cpu_partition": CPU_PARTITION, "max_runtime": int(partitions[GPU_PARTITION])}
    cluster |= {"runtime": {"train": 1, "score": 1, "heldout_loss": 1}, "mem_mb": {"evaluate": 10**8}}
    if cpus >= 4:  # a node larger than the defaults (not the 2-core CI machine's): ask more than it has
        cluster["threads"] = {"train": cpus + 1}
    wanted = max(4, cpus + 1)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(_config(4 * 10, 10, cluster)))  # 4 checkpoints: 4 score + 4 held-out jobs
    cmd = [*SNAKEMAKE, *TARGETS, "--directory", tmp_path, "--configfile", config, *PROFILES]
    started = time.monotonic()
    run = subprocess.run(
        [*cmd, "--group-components", "score=8"], env=_env(), capture_output=True, text=True, timeout=300
    )
    out = run.stdout + run.stderr
    assert run.returncode != 0 and "has been submitted" not in out, out[-6000:]
    assert (
        f"ncsn: train: asks for {cpus} CPUs instead of {wanted}, the most a node of partition {GPU_PARTITION} has"
        in out
    )
    assert "nothing was submitted" in out, out[-6000:]
    assert re.search(rf"rule evaluate \(.*\): no node of partition {GPU_PARTITION} .* 100000000 MB of memory", out), out
    group = "group score (8 jobs of heldout_loss, score): a group asks for the sum of its jobs' runtimes, 8 min, over"
    assert group in out, out[-6000:]
    assert time.monotonic() - started < 120


def test_workflow_on_a_gpu_cluster_with_limits_chains_and_requeues_training_and_matches_a_local_run(
    tmp_path: Path, partitions: dict[str, float]
) -> None:
    max_runtime = int(partitions[GPU_PARTITION])
    rate = _training_speed(tmp_path / "calibration")
    snapshot_freq = max(1, math.ceil(TRAIN_SECONDS / SNAPSHOTS * rate))
    iterations = SNAPSHOTS * snapshot_freq
    # A user's cluster block: the CPU partition by name, the GPU partition's MaxTime as the cap,
    # one-minute score/held-out jobs so that a group of GROUP_SIZE fits under the cap, and the
    # training's minutes on this CPU (the cost model knows GPUs): generous, so that the chain's
    # retries cover a busy machine's slow start-ups.
    cluster = {
        "cpu_partition": CPU_PARTITION,  # the GPU jobs' partition is the site profile's
        "max_runtime": max_runtime,
        "runtime": {"train": 4 * math.ceil(TRAIN_SECONDS / 60), "score": 1, "heldout_loss": 1, "ref_stats": 1},
    } | ONE_CPU
    config = _config(iterations, snapshot_freq, cluster)
    runs = {}
    for side in ("local", "slurm"):
        runs[side] = tmp_path / side
        runs[side].mkdir()
        (runs[side] / "config.yaml").write_text(yaml.safe_dump(config))

    local_cmd = [*SNAKEMAKE, *TARGETS, "--directory", runs["local"], "--configfile", runs["local"] / "config.yaml"]
    local_cmd += ["--cores", "2", *LOCAL_THREADS]  # one thread per job (--max-threads): results do not depend on it
    with open(tmp_path / "local.log", "w") as out:
        local = subprocess.Popen(local_cmd, env=_env(), stdout=out, stderr=subprocess.STDOUT)
    snakemake_args = [*TARGETS, "--directory", str(runs["slurm"]), "--configfile", str(runs["slurm"] / "config.yaml")]
    snakemake_args += ["--profile", str(SITE), *TEST_CLUSTER]  # head.sbatch adds the workflow profile
    jobs = Jobs()
    preemptions = Preemptions(runs["slurm"] / f"results/logs/train/{DATASET}/{EXPERIMENT}.log")
    timeout = Timeout()
    # A first head whose time limit is shorter than the workflow: warned early, it cancels its jobs.
    cut_log, head_log = runs["slurm"] / "head-cut.log", runs["slurm"] / "head.log"
    limit = [f"--time={HEAD_LIMIT_MIN}", f"--signal=B:USR1@{HEAD_WARNING_S}"]
    cut = _submit_head(cut_log, snakemake_args, *limit)
    try:
        _wait_head(cut, jobs, cut_log)
        cut_out = cut_log.read_text()
        cut_jobs = [jid for _, jid, _ in SUBMITTED.findall(cut_out)]
        left = _left_running(jobs, cut_jobs)
        # the reference statistics are made again under the second head, beside its training
        refstats = runs["slurm"] / f"results/refstats/{DATASET}/{DATASET}.npz"
        redone = ["ref_stats"] if refstats.exists() else []  # made under the cut head: made twice
        refstats.unlink(missing_ok=True)
        head = _submit_head(head_log, snakemake_args)
        _wait_head(head, jobs, head_log, preemptions, timeout)
        local.wait(timeout=RUN_TIMEOUT_S)
    finally:
        if local.poll() is None:
            local.kill()
    slurm_out, local_out = head_log.read_text(), (tmp_path / "local.log").read_text()
    assert jobs.state(cut) != "TIMEOUT" and "SIGUSR1: cancelling the workflow's jobs" in cut_out, cut_out[-6000:]
    assert not left, f"the cut head job left {left} running:\n{cut_out[-6000:]}"
    cancelled = [jid for jid in cut_jobs if ("RUNNING", "None") in jobs.waits[jid] and jobs.state(jid) == "CANCELLED"]
    assert cancelled, f"the cut head job cancelled nothing that ran: {[(j, jobs.waits[j]) for j in cut_jobs]}"
    assert jobs.state(head) == "COMPLETED", f"the head job ended {jobs.state(head)}:\n{slurm_out[-6000:]}"
    assert local.returncode == 0, f"the local run failed:\n{local_out[-6000:]}"
    assert preemptions.terminated, (
        f"no training was seen running long enough to be pre-empted twice: {preemptions.__dict__}"
    )
    placements = _placements(runs["slurm"])  # before the gres run rewrites the evaluate job's log

    # The gres recipe: the same GPU job again with cluster.gpu_request: gres.
    gres_config = dict(config, cluster=dict(cluster, gpu_request="gres"))
    (runs["slurm"] / "gres.yaml").write_text(yaml.safe_dump(gres_config))
    gres_cmd = [*SNAKEMAKE, *TARGETS, "--directory", runs["slurm"], "--configfile", runs["slurm"] / "gres.yaml"]
    gres_cmd += [*PROFILES, "--forcerun", "evaluate", *TEST_CLUSTER]
    with open(tmp_path / "gres.log", "w") as out:
        gres = subprocess.Popen(gres_cmd, env=_env(), stdout=out, stderr=subprocess.STDOUT)
    started = time.monotonic()
    while gres.poll() is None:  # poll SLURM while its job runs: the GPU index is shown only then
        jobs.poll()
        time.sleep(1)
        if time.monotonic() - started > RUN_TIMEOUT_S / 2:
            gres.send_signal(signal.SIGINT)  # Snakemake cancels its SLURM job
            gres.wait(timeout=120)
    jobs.poll()
    gres_out = (tmp_path / "gres.log").read_text()
    assert gres.returncode == 0, gres_out[-6000:]
    [(_, gres_job, _)] = SUBMITTED.findall(gres_out)

    # Which jobs ran where: the localrules inside the head jobs, the score jobs in groups, every
    # other one as a SLURM job of its own; between the two heads every job finished once.
    local_jobs = sorted(re.findall(r"^localrule (\w+):", local_out, re.M))
    heads_out = "".join(
        re.sub(r"^Logfile [^\n]*:\n={80}\n.*?^={80}$", "", out, flags=re.M | re.S) for out in (cut_out, slurm_out)
    )
    assert set(re.findall(r"^localrule (\w+):", heads_out, re.M)) == set(LOCAL_RULES)
    submissions = [(job, jid, *LOG_KIND.search(log).groups()) for job, jid, log in SUBMITTED.findall(heads_out)]
    finished = re.findall(r"^Finished jobid: \d+ \(Rule: (\w+)\)$", heads_out, re.M)
    # a job can complete after the cut head's last status check: the second head finds its outputs
    unseen = [name for _, jid, kind, name in submissions if jid in cut_jobs and jobs.state(jid) == "COMPLETED"]
    unseen = [
        name for name in unseen if name not in re.findall(r"^Finished jobid: \d+ \(Rule: (\w+)\)$", cut_out, re.M)
    ]
    assert sorted(finished + unseen) == sorted(local_jobs + redone), (finished, unseen, redone)
    groups = {job for job, _, kind, name in submissions if kind == "group"}
    scores, heldouts = local_jobs.count("score"), local_jobs.count("heldout_loss")
    assert scores == heldouts == SNAPSHOTS, local_jobs
    assert len(groups) == math.ceil((scores + heldouts) / GROUP_SIZE), submissions

    # SLURM's records and the jobs' own logs: GPU jobs asked for a GPU in the GPU partition and
    # each held one (the index SLURM allocated is the CUDA_VISIBLE_DEVICES the job saw); the CPU
    # job asked for none, in the CPU partition; nothing waited for a limit; no time limit above
    # its partition's MaxTime.
    gpu_jobs = {}
    for job, jid, kind, name in submissions:
        record, saw = jobs.latest[jid], placements.get(jid, [])
        waits = {(state, reason) for state, reason in jobs.waits[jid] if state == "PENDING"}
        assert {reason for _, reason in waits} <= HARMLESS_WAITS, f"{name} (SLURM job {jid}) waited: {waits}"
        assert _minutes(record["TimeLimit"]) <= partitions[record["Partition"]], record
        if name in CPU_RULES:
            assert record["Partition"] == CPU_PARTITION and "gpu" not in record.get("TresPerJob", ""), record
            assert not jobs.gpus[jid] and saw and all(not p["CUDA_VISIBLE_DEVICES"] for p in saw), (record, saw)
            continue
        assert name in GPU_RULES or kind == "group", name
        assert record["Partition"] == GPU_PARTITION and record.get("TresPerJob") == "gres:gpu:1", record
        if name != "train" and jid not in cancelled and jid != timeout.frozen:  # a rerun's log overwrites
            assert saw, f"{name} (SLURM job {jid}) logged no placement"
        if jid == preemptions.requeued:  # one GPU per run; the run after the requeue may get the other one
            assert 1 <= len(jobs.gpus[jid]) <= 2 and all(p["CUDA_VISIBLE_DEVICES"] in jobs.gpus[jid] for p in saw)
            continue
        assert len(jobs.gpus[jid]) == 1, (name, jid, jobs.gpus[jid])
        (index,) = jobs.gpus[jid]
        for p in saw:
            assert p["SLURM_JOB_PARTITION"] == GPU_PARTITION, p
            assert p["CUDA_VISIBLE_DEVICES"] == index and _slurm_gpus(p) <= {index}, (p, index)
        gpu_jobs[jid] = index
    overlapping = [
        (a, b)
        for a in gpu_jobs
        for b in gpu_jobs
        if a < b
        and max(_interval(jobs.latest[a])[0], _interval(jobs.latest[b])[0])
        < min(_interval(jobs.latest[a])[1], _interval(jobs.latest[b])[1])
    ]
    assert any(gpu_jobs[a] != gpu_jobs[b] for a, b in overlapping), (overlapping, gpu_jobs)
    assert not any(gpu_jobs[a] == gpu_jobs[b] for a, b in overlapping), "two jobs held the same GPU at once"

    # The frozen ref_stats job ran out of its 1-minute limit (TIMEOUT); its retry asked for more.
    assert timeout.frozen, "no ref_stats job was seen running under the second head"
    assert jobs.state(timeout.frozen) == "TIMEOUT" and _minutes(jobs.latest[timeout.frozen]["TimeLimit"]) == 1
    later = [jid for _, jid, _, name in submissions if name == "ref_stats" and int(jid) > int(timeout.frozen)]
    assert later and jobs.state(later[0]) == "COMPLETED", [(j, jobs.latest[j]) for j in later]
    assert _minutes(jobs.latest[later[0]]["TimeLimit"]) == min(2, max_runtime) > 1, jobs.latest[later[0]]

    # The gres recipe asked for --gres=gpu:1 (per node), not --gpus, and still got its own GPU.
    record = jobs.latest[gres_job]
    assert record.get("TresPerNode") == "gres:gpu:1" and "TresPerJob" not in record, record
    assert record["Partition"] == GPU_PARTITION and len(jobs.gpus[gres_job]) == 1, record
    [p] = _placements(runs["slurm"])[gres_job]
    assert p["CUDA_VISIBLE_DEVICES"] == next(iter(jobs.gpus[gres_job])) and _slurm_gpus(p) <= jobs.gpus[gres_job], p

    # The training chain: under the second head, every submission but the last stopped itself
    # (exit 75: before its time limit, or on the test's SIGTERM); one was requeued (pre-empted) and
    # resumed under the same job id. Every session starts where the one before it stopped, and each
    # signalled one stopped on SIGTERM, where it was: not an iteration lost.
    cut_trains = [jid for _, jid, _, name in submissions if name == "train" and jid in cut_jobs]
    trains = [jid for _, jid, _, name in submissions if name == "train" and jid not in cut_jobs]
    assert len(cut_trains + trains) >= MIN_SUBMISSIONS, f"training took {cut_trains + trains} submissions"
    assert [jobs.latest[j]["JobState"] for j in trains] == ["FAILED"] * (len(trains) - 1) + ["COMPLETED"]
    slurm_logs = {jid: Path(path) for _, jid, path in SUBMITTED.findall(heads_out)}
    for jid in trains[:-1]:  # the job step's own log (kept for failed jobs): train's exit status
        text = slurm_logs[jid].read_text()
        if jid == preemptions.terminated:  # the signal reached the rule's shell too: Snakemake names it
            assert "died with <Signals.SIGTERM: 15>" in text, text[-3000:]
        else:
            assert f"non-zero exit status {EXIT_RESUME}" in text, text[-3000:]
    assert all(_minutes(jobs.latest[j]["TimeLimit"]) == max_runtime for j in cut_trains + trains)
    assert jobs.latest[preemptions.requeued]["Restarts"] == "1"
    run_dir = f"results/runs/{DATASET}/{EXPERIMENT}"
    record = json.loads((runs["slurm"] / run_dir / "run.json").read_text())
    sessions = record["sessions"]
    chain = [(s["slurm_job"], s["start_iteration"], s["end_iteration"], s.get("stopped")) for s in sessions]
    assert set(trains) <= {job for job, *_ in chain} <= set(cut_trains + trains), (chain, cut_trains, trains)
    assert chain[0][1] == 0 and chain[-1][2] == iterations, chain
    assert all(after[1] == before[2] for before, after in zip(chain, chain[1:])), chain
    signalled = {preemptions.terminated, *cut_trains[-1:]}  # and the requeued job's first session
    for i, (job, _, _, stopped) in enumerate(chain[:-1]):
        first_requeued = job == preemptions.requeued and job not in [other for other, *_ in chain[:i]]
        expected = "on SIGTERM" if job in signalled or first_requeued else "before the wall-time limit"
        assert stopped == expected, (job, chain)
    assert [job for job, *_ in chain].count(preemptions.requeued) == 2, chain  # before and after the requeue
    assert preemptions.terminated in {job for job, *_ in chain}, chain
    assert "before the wall-time limit" in {stopped for *_, stopped in chain}, chain  # a chain, not just signals
    log = (runs["slurm"] / f"results/logs/train/{DATASET}/{EXPERIMENT}.log").read_text()
    assert "resuming from" in log, log

    # Same seeds, same results: every checkpoint tensor, the samples and the metrics.
    checkpoints = sorted((runs["local"] / run_dir / "checkpoints").glob("ckpt_*.pt"))
    assert [p.name for p in checkpoints] == sorted(
        p.name for p in (runs["slurm"] / run_dir / "checkpoints").glob("ckpt_*.pt")
    )
    assert len(checkpoints) == SNAPSHOTS
    checkpoints.append(runs["local"] / "results/extractors/digits/model.pt")
    for path in checkpoints:
        ours, theirs = _checkpoint_tensors(path), _checkpoint_tensors(runs["slurm"] / path.relative_to(runs["local"]))
        assert ours.keys() == theirs.keys()
        for key in ours:
            assert torch.equal(ours[key], theirs[key]), f"{path.name}: {key} differs between the local and SLURM run"
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
    for path in sorted((runs["local"] / f"results/scores/{DATASET}/{EXPERIMENT}").glob("*.json")):
        ours, theirs = (
            _without_timing(json.loads(p.read_text())) for p in (path, runs["slurm"] / path.relative_to(runs["local"]))
        )
        assert ours == theirs, path.name
