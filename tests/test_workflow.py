"""The Snakemake workflow, run for real (``python -m snakemake``) in temporary folders.

A tiny digits config (a 4-channel RefineNet trained for 20 iterations, 3-step samplers)
drives one end-to-end run shared by the tests of this module; they run in order in one
xdist group. The paper config is only planned (dry run): its data are not here.
"""

from __future__ import annotations

import copy
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml
from helpers import ONE_THREAD, ROOT, TINY, job_counts, plan, snakemake, snakemake_command, write_config

from ncsn.settings import defaults

pytestmark = pytest.mark.xdist_group("workflow")

METRICS = "results/eval/digits/tiny/metrics.json"
TABLE = "results/report/results.md"
TARGETS = [METRICS, TABLE]


def run_targets(workdir: Path, configfile: Path, *targets: str) -> subprocess.CompletedProcess:
    result = snakemake(workdir, configfile, "--cores", "2", "--set-threads", *ONE_THREAD, "--", *targets)
    assert result.returncode == 0, result.stdout[-4000:]
    return result


# ------------------------------------------------------------------ paper config, planned


def test_paper_config_plans_one_score_job_per_checkpoint(tmp_path):
    paper = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    weights = tmp_path / "weights-inception-2015-12-05-6726825d.pth"
    weights.touch()
    paper["extractors"]["inception"]["weights"] = str(weights)
    for name, block in paper["datasets"].items():
        (tmp_path / name).mkdir()
        block.update(root=str(tmp_path / name), download=False)
    config = write_config(tmp_path / "paper.yaml", paper)

    counts = plan(tmp_path, config)

    experiments = paper["experiments"]
    fid_selected = [x for x, e in experiments.items() if e.get("selection", {}).get("criterion", "fid") == "fid"]
    # 200k iterations, a snapshot every 5000: 40 checkpoints to score per FID-selected run
    assert counts["score"] == 40 * len(fid_selected) == 240
    assert counts["train"] == len(experiments) == 8
    assert counts["select"] == counts["evaluate"] == 8
    assert counts["sample"] == sum(e["evaluation"]["shards"] for e in experiments.values()) == 80
    assert counts["prepare"] == 3 and counts["ref_stats"] == 3
    assert "train_extractor" not in counts  # Inception weights are given, not trained
    baselines = {e["dataset"] for e in experiments.values() if e.get("schedule", {}).get("kind") == "single"}
    assert baselines == {"mnist", "cifar10", "celeba"}  # paper Figs. 7-8
    assert counts["toy_eps_sweep"] == counts["toy_langevin_modes"] == 1  # [Re] Fig. 11, paper Fig. 3

    # inpainting: CIFAR-10 training images, CelebA test images (the official code's), MNIST training images
    targets = [f"results/figures/{d}/{d}_geometric/inpainting.png" for d in ("cifar10", "celeba", "mnist")]
    result = snakemake(tmp_path, config, "-n", "-p", "--", *targets)
    assert result.returncode == 0, result.stdout[-3000:]
    used = dict(
        re.findall(
            r"figure inpainting --selection \S+/(\w+)_geometric/selection.json --data \S+/(\w+)\.npz", result.stdout
        )
    )
    assert used == {"cifar10": "train", "celeba": "test", "mnist": "train"}


def test_paper_config_plans_on_a_fresh_clone_and_lists_what_is_missing(tmp_path):
    """No data, no weights: a dry run prints the full plan and names each missing input with its key;
    a real run stops before its first job."""
    counts_run = snakemake(tmp_path, ROOT / "config/paper.yaml", "-n", "--quiet", "rules")
    assert counts_run.returncode == 0, counts_run.stdout[-4000:]
    counts = job_counts(counts_run.stdout)
    # 6 experiments selected by FID x 40 checkpoints; 8 experiments x 10 shards
    assert counts["score"] == 240 and counts["sample"] == 80 and counts["report_tables"] == 1
    for needle in (
        "extractors.inception.weights: file 'weights/weights-inception-2015-12-05-6726825d.pth' does not exist",
        "extractors.inception.cleanfid_weights: file 'weights/inception-2015-12-05.pt' does not exist",
        "datasets.celeba.root: folder 'data/celeba' does not exist",
    ):
        assert needle in counts_run.stdout, counts_run.stdout[-4000:]
    real = snakemake(tmp_path, ROOT / "config/paper.yaml", "--cores", "1")
    assert real.returncode != 0 and "Missing inputs, nothing was run" in real.stdout, real.stdout[-4000:]
    assert "extractors.inception.cleanfid_weights" in real.stdout.split("Missing inputs, nothing was run", 1)[1]
    assert not (tmp_path / "results").exists()


def test_default_config_is_found_from_any_working_directory(tmp_path):
    cmd = [*snakemake_command(tmp_path), "-n", "--quiet", "rules"]
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    default = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    counts = job_counts(result.stdout)
    assert counts["train"] == len(default["experiments"])
    checkpoints = [
        -(-e["training"]["iterations"] // e["training"]["snapshot_freq"])
        for e in default["experiments"].values()
        if e["selection"]["criterion"] == "fid"  # `last` scores no checkpoint
    ]
    assert counts["score"] == sum(checkpoints) > 0


# ------------------------------------------------------------------ config rejected before any job


def _tiny_with(change) -> dict:
    config = copy.deepcopy(TINY)
    change(config)
    return config


BAD_CONFIGS = {
    "wrong type": (
        lambda c: c["experiments"]["tiny"]["training"].update(iterations="many"),
        ["experiments.tiny.training.iterations: 'many' is not of type 'integer'"],
    ),
    "unknown source": (
        lambda c: c["datasets"]["digits"].update(source="imagenet"),
        ["datasets.digits.source: 'imagenet' is not one of"],
    ),
    "missing key": (
        lambda c: c["experiments"]["tiny"].pop("extractor"),
        ["experiments.tiny: 'extractor' is a required property"],
    ),
    "unknown experiment key": (
        lambda c: c["experiments"]["tiny"].update(trainig={}),
        ["experiments.tiny.trainig: unknown key; did you mean `training`?"],
    ),
    "training typo": (
        lambda c: c["experiments"]["tiny"]["training"].update(iteratons=5),
        ["experiments.tiny.training.iteratons: unknown key; did you mean `iterations`?"],
    ),
    "model typo": (
        lambda c: c["experiments"]["tiny"]["model"].update(nfg=8),
        ["experiments.tiny.model.nfg: unknown key; did you mean `ngf`?"],
    ),
    "sampling typo": (
        lambda c: c["experiments"]["tiny"]["sampling"].update(step_rl=1e-5),
        ["experiments.tiny.sampling.step_rl: unknown key; did you mean `eps`?"],
    ),
    "official step_lr": (
        lambda c: c["experiments"]["tiny"]["sampling"].update(step_lr=2e-5),
        ["experiments.tiny.sampling.step_lr: renamed; write `eps` instead", "eps = 2 * step_lr"],
    ),
    "data set typo": (
        lambda c: c["datasets"]["digits"].update(image_sise=8),
        ["datasets.digits.image_sise: unknown key; did you mean `image_size`?"],
    ),
    "extractor typo": (
        lambda c: c["extractors"]["digits"].update(epoch=3),
        ["extractors.digits.epoch: unknown key; did you mean `epochs`?"],
    ),
    "ascending noise levels": (
        lambda c: c["experiments"]["tiny"]["schedule"].update(sigma_begin=0.01, sigma_end=1.0),
        ["experiments.tiny.schedule.sigma_begin (0.01) must exceed experiments.tiny.schedule.sigma_end (1.0)"],
    ),
    "undefined data set": (
        lambda c: c["experiments"]["tiny"].update(dataset="mnist"),
        ["experiments.tiny.dataset: 'mnist' is not a key of 'datasets'"],
    ),
    "missing data root": (
        lambda c: (
            c["datasets"].update(mnist={"source": "mnist", "root": "/nonexistent/mnist"})
            or c.update(toy={"ssm_noise": {"dataset": "mnist"}})
        ),
        ["datasets.mnist.root: folder '/nonexistent/mnist' does not exist", "download: true"],
    ),
    "missing inception weights": (
        lambda c: (
            c["extractors"].update(inception={"kind": "inception", "weights": "/nonexistent/w.pth"})
            or c["experiments"]["tiny"].update(extractor="inception")
        ),
        ["extractors.inception.weights: file '/nonexistent/w.pth' does not exist"],
    ),
    "undefined toy data set": (
        lambda c: c.update(toy={"ssm_noise": {"dataset": "cifar10"}}),
        ["toy.ssm_noise.dataset: 'cifar10' is not a key of 'datasets'"],
    ),
    "sweep without the sampled eps": (
        lambda c: c.update(figures={"sweep": {"experiment": "tiny", "eps": [1.0e-5, 5.0e-5]}}),
        ["figures.sweep.eps [1e-05, 5e-05] lacks 4e-05, the experiments.tiny.sampling.eps"],
    ),
    "too many shards": (
        lambda c: c["experiments"]["tiny"]["evaluation"].update(shards=3),
        ["experiments.tiny.evaluation.shards (3) exceeds the 2 sampling batch(es)"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_bad_config_is_rejected_naming_the_key_before_any_job(tmp_path, case):
    change, messages = BAD_CONFIGS[case]
    config = write_config(tmp_path / "config.yaml", _tiny_with(change))
    result = snakemake(tmp_path, config, "--cores", "1")
    assert result.returncode != 0
    # The problems come first, in a few lines (not a schema dump); a missing file is listed before
    # Snakemake's own start-up lines and the run stops in `onstart`, before any job.
    head = "\n".join(result.stdout.splitlines()[:25])
    for message in messages:
        assert message in head, result.stdout[-3000:]
    assert not (tmp_path / "results").exists()


def test_short_config_gets_the_paper_defaults(tmp_path):
    config = write_config(tmp_path / "config.yaml", TINY)
    result = snakemake(tmp_path, config, "-n", "-p", "--", "results/runs/digits/tiny/run.json")
    assert result.returncode == 0, result.stdout[-3000:]
    settings = json.loads(re.search(r"ncsn train .*--settings '([^']+)'", result.stdout)[1])
    assert settings["training"] == {**defaults("training"), "iterations": 20, "snapshot_freq": 10, "batch_size": 32}
    assert (settings["training"]["lr"], settings["training"]["ema"]) == (0.001, False)  # the paper's, App. B.2
    assert settings["model"] == {"ngf": 4, "arch": "refinenet"}
    assert settings["schedule"] == {"num_levels": 3, "kind": "geometric", "sigma_begin": 1.0, "sigma_end": 0.01}


# ------------------------------------------------------------------ the tiny run, end to end


# The end-to-end tests below take about 2-5 minutes together (job start-up dominates).


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    config = write_config(workdir / "config.yaml", TINY)
    result = run_targets(workdir, config, *TARGETS)
    return workdir, config, result


@pytest.mark.slow
def test_tiny_run_produces_metrics_and_results_table(tiny_run):
    workdir, _, result = tiny_run
    counts = job_counts(result.stdout)
    assert counts["score"] == 2 and counts["sample"] == 2 and counts["train"] == 1 and counts["heldout_loss"] == 2
    metrics = json.loads((workdir / METRICS).read_text())
    assert metrics["num_samples"] == 40
    assert 0 <= metrics["recognisable"] <= 1 and 0 <= metrics["recognisable_real"] <= 1
    table = (workdir / TABLE).read_text()
    assert re.search(r"\| this run \| tiny \| digits \|", table), table
    row = pd.read_csv(workdir / "results/report/results.csv").iloc[0]  # KID and precision/recall in the table
    assert row["kid_mean"] == pytest.approx(metrics["kid"]["mean"]) and row["precision"] == pytest.approx(
        metrics["precision"]
    )
    assert pd.read_csv(workdir / "results/selection/digits/tiny/fid_vs_checkpoint.csv")["heldout_loss"].notna().all()
    low, high = metrics["intervals"]["recognisable"]  # Wilson's interval of the share
    assert low <= metrics["recognisable"] <= high
    recognisable = f"| {metrics['recognisable']:.2f} [{low:.2f}, {high:.2f}] | {metrics['recognisable_real']:.2f} |"
    assert recognisable in table
    assert f"| {metrics['extractor']['test_accuracy']:.4f} |" in table  # the classifier's test accuracy
    selection = json.loads((workdir / "results/selection/digits/tiny/selection.json").read_text())
    assert selection["iteration"] in (10, 20) and selection["num_candidates"] == 2
    for log in ("train/digits/tiny.log", "score/digits/tiny/ckpt_10.log", "evaluate/digits/tiny.log"):
        assert (workdir / "results/logs" / log).is_file()
    assert (workdir / "results/benchmarks/train/digits/tiny.tsv").is_file()
    timing = pd.read_csv(workdir / "results/report/timing.csv").set_index("experiment")
    assert counts["sample_timing"] == 2
    assert timing.loc["tiny", "prepare_seconds"] > 0 and timing.loc["tiny", "sampling_3_s"] > 0
    assert timing.loc["tiny", "sampling_1_s"] > 0 and "sampling_1000_s" in timing.columns  # [Re] rows


@pytest.mark.slow
def test_second_run_does_nothing(tiny_run):
    workdir, config, _ = tiny_run
    result = run_targets(workdir, config, *TARGETS)
    assert "Nothing to be done" in result.stdout
    assert job_counts(result.stdout) == {}


UPSTREAM = ("data", "extractors", "refstats", "train_state", "runs", "scores", "selection")


def _upstream_mtimes(workdir: Path) -> dict[str, int]:
    """Modification times of every file that evaluation depends on but must not rewrite."""
    return {str(p): p.stat().st_mtime_ns for d in UPSTREAM for p in (workdir / "results" / d).rglob("*") if p.is_file()}


@pytest.mark.slow
def test_the_readme_own_images_example_gives_the_workflows_fid(tiny_run):
    """README, "Scoring your own images": export the samples, score them against the prepared data set."""
    workdir, _, _ = tiny_run
    for command in (
        "export --samples results/samples/digits/tiny --out own_png",
        "fidelity --input1 own_png --input2 results/data/digits --extractor digits"
        " --weights results/extractors/digits/model.pt --threads 1 --out own.json",
    ):
        done = subprocess.run(
            [sys.executable, "-m", "ncsn", *command.split()], cwd=workdir, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-3000:]
    own = json.loads((workdir / "own.json").read_text())
    workflow = json.loads((workdir / METRICS).read_text())
    assert own["num_samples"] == workflow["num_samples"] == 40
    assert own["fid"] == pytest.approx(workflow["fid"], rel=1e-6)
    assert own["fid_cleanfid"] == pytest.approx(workflow["fid_cleanfid"], rel=1e-6)


@pytest.mark.slow
def test_changing_evaluation_samples_reruns_evaluation_only(tiny_run):
    workdir, _, _ = tiny_run
    before = _upstream_mtimes(workdir)
    assert len(before) > 10
    changed = copy.deepcopy(TINY)
    changed["experiments"]["tiny"]["evaluation"]["num_samples"] = 60
    config = write_config(workdir / "more_samples.yaml", changed)

    result = run_targets(workdir, config, *TARGETS)
    counts = job_counts(result.stdout)
    assert counts.pop("sample") == 2 and counts.pop("evaluate") == 1
    assert set(counts) <= {"report_tables"}, counts  # the report reads the metrics
    assert json.loads((workdir / METRICS).read_text())["num_samples"] == 60
    assert _upstream_mtimes(workdir) == before


@pytest.mark.slow
def test_deleting_one_score_reruns_only_that_job(tiny_run):
    workdir, config, _ = tiny_run
    (workdir / "results/scores/digits/tiny/ckpt_10.json").unlink()
    # A missing intermediate is not remade unless asked for (docs/running.md says so); what the
    # plan holds besides comes from the earlier evaluation-settings test, not from the deletion.
    assert not {"score", "select"} & set(plan(workdir, config, *TARGETS))
    counts = plan(workdir, config, "results/scores/digits/tiny/ckpt_10.json", "results/scores/digits/tiny/ckpt_20.json")
    assert counts == {"score": 1}


def _train_process(parent: psutil.Process) -> psutil.Process | None:
    for child in parent.children(recursive=True):
        try:
            cmdline = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "ncsn" in cmdline and "train" in cmdline:
            return child
    return None


@pytest.mark.slow
def test_killed_training_resumes_from_its_last_snapshot(tiny_run):
    workdir, _, _ = tiny_run
    longer = copy.deepcopy(TINY)
    longer["experiments"] = {
        "long": {**TINY["experiments"]["tiny"], "training": {"iterations": 60, "snapshot_freq": 5, "batch_size": 32}}
    }
    config = write_config(workdir / "long.yaml", longer)
    run_json = workdir / "results/runs/digits/long/run.json"
    cmd = [*snakemake_command(workdir), "--configfile", str(config)]
    cmd += ["--cores", "1", "--", str(run_json.relative_to(workdir))]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not list(workdir.glob("results/train_state/digits/long/*/ckpt_*.pt")):
            assert proc.poll() is None and time.monotonic() < deadline, "training never wrote a snapshot"
            time.sleep(0.2)
        trainer = _train_process(psutil.Process(proc.pid))
        assert trainer is not None
        trainer.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=120) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not run_json.exists()  # Snakemake removed the failed job's outputs...
    snapshots = list(workdir.glob("results/train_state/digits/long/*/ckpt_*.pt"))
    assert snapshots  # ...but not the resumable state

    run_targets(workdir, config, str(run_json.relative_to(workdir)))
    record = json.loads(run_json.read_text())
    assert record["iterations"] == 60
    assert len(record["sessions"]) >= 2
    assert record["sessions"][-1]["start_iteration"] >= 5
    assert sum(s["end_iteration"] - s["start_iteration"] for s in record["sessions"]) < 60 + 5
