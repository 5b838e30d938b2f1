"""``ncsn estimate``: the workflow's own plan costed per rule; counted FLOPs, the [Re] report's V100
timings, disk, cluster runtimes, and the command line."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from ncsn.commands.estimate import load_config, read_config
from ncsn.errors import NcsnError
from ncsn.estimate import (
    GPU_MEMORY_GIB,
    GPU_PEAK_TFLOPS,
    STARTUP_MINUTES,
    JobClock,
    estimate,
    format_estimate,
    gpu_speed,
    runtime_minutes,
    train_submissions,
)
from ncsn.models import build_model, count_parameters, refinenet
from ncsn.models.refinenet import box_mean5
from ncsn.workflow_plan import planned_jobs
from ncsn.workload import INCEPTION_GFLOP, activation_bytes, network_flops

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "config" / "paper.yaml"
DEFAULT = REPO / "config" / "config.yaml"


def plan(config_path: Path, snakefile: Path = REPO / "Snakefile") -> list:
    return planned_jobs(read_config(config_path), snakefile)


@pytest.fixture(scope="module")
def paper_jobs():
    return plan(PAPER)


@pytest.fixture(scope="module")
def paper_v100(paper_jobs):
    return estimate(load_config(PAPER), "v100", paper_jobs, data_root=Path("/nonexistent"), memory=False)


def _stage(result, key: str, rule: str):
    return result.row(key, rule)


def test_the_v100_estimate_agrees_with_the_re_report_timings(paper_v100):
    config = load_config(PAPER)
    training = config["experiments"]["cifar10_geometric"]["training"]
    train_hours = paper_v100.hours(_stage(paper_v100, "cifar10_geometric", "train"))
    it_per_s = training["iterations"] / (train_hours * 3600)
    sample_hours = paper_v100.hours(_stage(paper_v100, "cifar10_geometric", "sample"))
    seconds_per_1000 = (
        sample_hours * 3600 / config["experiments"]["cifar10_geometric"]["evaluation"]["num_samples"] * 1000
    )
    # [Re] Table 1, CIFAR-10 on a V100: 1.73 it/s, 1398 s per 1000 samples
    assert 1 / 1.5 < it_per_s / 1.73 < 1.5, it_per_s
    assert 1 / 1.5 < seconds_per_1000 / 1398 < 1.5, seconds_per_1000


def test_counted_flops_equal_an_independent_count_of_the_convolutions(monkeypatch):
    """FlopCounterMode on the meta device against forward hooks summing 2 * output elements * kernel
    MACs of every convolution and linear layer (and the 5x5 box means, depthwise convolutions), on
    a real forward pass."""
    spec = {"arch": "refinenet", "ngf": 8, "channels": 3, "image_size": 16, "num_classes": 10}
    forward, train_step, params = network_flops(spec)
    torch.manual_seed(0)
    model = build_model(spec)
    total = 0

    def counted_box_mean5(x, count_include_pad=True):
        nonlocal total
        total += 2 * x.numel() * 25
        return box_mean5(x, count_include_pad)

    monkeypatch.setattr(refinenet, "box_mean5", counted_box_mean5)

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            kernel = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        else:
            kernel = module.in_features
        total += 2 * output.numel() * kernel

    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            module.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.rand(2, 3, 16, 16), torch.zeros(2, dtype=torch.long))
    assert forward == total / 2
    assert params == count_parameters(model)
    assert 2.9 < train_step / forward < 3.1  # backward = two forward's worth (input and weight gradients)


def test_disk_keeps_weights_per_checkpoint_and_adam_once(paper_v100):
    config = load_config(PAPER)
    exp = config["experiments"]["cifar10_geometric"]
    params = count_parameters(build_model({**exp["model"], "channels": 3, "image_size": 32, "num_classes": 10}))
    checkpoints = exp["training"]["iterations"] // exp["training"]["snapshot_freq"]
    assert _stage(paper_v100, "cifar10_geometric", "train").disk_bytes == (checkpoints + 2) * params * 4
    assert _stage(paper_v100, "cifar10", "prepare").disk_bytes == 60000 * 32 * 32 * 3
    # MNIST takes its last checkpoint: no FID per checkpoint; it is one of [Re] Table 1's timed experiments
    rules = {r.rule for r in paper_v100.rows if r.key == "mnist_geometric"}
    assert rules == {"train", "heldout_loss", "sample", "evaluate", "sample_timing"}
    # the selection scores keep their samples: 40 checkpoints x 1000 CIFAR-10 images
    assert _stage(paper_v100, "cifar10_geometric", "score").disk_bytes == 40 * 1000 * 32 * 32 * 3


def test_held_out_loss_timed_sampling_and_the_reused_sweep_cell_are_counted(paper_v100):
    config = load_config(PAPER)
    exp = config["experiments"]["cifar10_geometric"]
    forward, _, _ = network_flops({**exp["model"], "channels": 3, "image_size": 32, "num_classes": 10})
    heldout = exp["selection"]["heldout"]["num_images"]
    assert _stage(paper_v100, "cifar10_geometric", "heldout_loss").flop == 40 * 10 * heldout * forward
    assert _stage(paper_v100, "cifar10_geometric", "sample_timing").flop == (1 + 100 + 1000) * 10 * 100 * forward
    # 4 eps (both readings of the paper's: 2e-5 and 4e-5) x T in (10, 100, 1000) at 10 levels, less the
    # cell at the experiment's own eps and T = 100, which copies the chosen checkpoint's selection score
    # of as many samples; 11 cells extract features
    m = config["figures"]["sweep"]["num_samples"]
    assert m == exp["selection"]["num_samples"] and len(config["figures"]["sweep"]["eps"]) == 4
    sweep = _stage(paper_v100, "cifar10_geometric", "sweep_cell")
    assert sweep.flop == pytest.approx(
        m * (4 * 10 * (10 + 100 + 1000) - 10 * 100) * forward + m * 11 * INCEPTION_GFLOP * 1e9
    )


def test_a_given_checkpoint_is_neither_trained_nor_selected():
    """Planned without the checkpoint file (a stand-in) nor data or weights: imported, sampled, evaluated."""
    path = REPO / "config" / "paper_official.yaml"
    jobs = plan(path)
    official = estimate(load_config(path), "v100", jobs, data_root=Path("/nonexistent"))
    assert {r.rule for r in official.rows} == {"prepare", "ref_stats", "sample", "evaluate"}
    assert {rule for rule, _ in jobs} >= {"import_official", "given_checkpoint"} and not official.not_costed
    assert {m.kind for m in official.memory} == {"sample"}


def test_the_command_prints_totals_and_its_assumptions_and_refuses_unknown_gpus(tmp_path):
    """Two config files, as the SLURM command passes them: the second's cluster block reaches the runtimes."""
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(yaml.safe_dump({"cluster": {"gpu": "rtx3090", "max_runtime": 1000}}))
    configs = ["--configfile", str(PAPER), str(cluster)]
    run = [sys.executable, "-m", "ncsn", "estimate", *configs, "--data-root", str(tmp_path)]
    out = subprocess.run([*run, "--gpu", "a100"], capture_output=True, text=True, check=True).stdout
    assert "A100 tf32" in out and "TOTAL" in out and "calibrated on the [Re] report's V100" in out
    assert "gpu rtx3090, safety 3, max_runtime 1000 min" in out, out[-1500:]
    assert re.search(r"^  score +\d+ min$", out, re.M) and re.search(r"^  train +1000 min$", out, re.M), out[-1500:]
    assert re.search(r"^  train runs as up to [2-9] submission", out, re.M), out[-1500:]
    assert "NOT COSTED" not in out and re.search(r"^Jobs: \d+ planned by the workflow", out, re.M), out[-1500:]
    elsewhere = subprocess.run([*run, "--snakefile", str(tmp_path / "Snakefile")], capture_output=True, text=True)
    assert elsewhere.returncode == 2 and "pass --snakefile" in elsewhere.stderr, elsewhere.stderr
    bad = subprocess.run([*run, "--gpu", "v100", "--precision", "bf16"], capture_output=True, text=True)
    assert bad.returncode == 2 and "v100 has no bf16" in bad.stderr and "--precision fp32" in bad.stderr
    with pytest.raises(NcsnError, match="unknown GPU 'tpu'"):
        estimate(load_config(PAPER), "tpu", [])


def test_each_submitted_job_asks_for_safety_times_its_cost_capped_and_overridable(paper_v100, paper_jobs):
    config = load_config(PAPER)
    assert config["cluster"]["safety"] == 3 and config["cluster"]["max_runtime"] == 1440
    assert config["cluster"]["gpu"] == "v100"
    clock = JobClock(config, Path("/nonexistent"))
    score = _stage(paper_v100, "cifar10_geometric", "score")
    job = {"dataset": "cifar10", "experiment": "cifar10_geometric", "iteration": "5000"}
    # every score job is alike: the row's work over its jobs, at the V100's sustained speed
    minutes = score.flop / score.jobs / (GPU_PEAK_TFLOPS["v100"]["fp32"] * 1e12 * paper_v100.efficiency) / 60
    assert clock.minutes("score", job) == pytest.approx(minutes)
    expected = math.ceil(3 * minutes + STARTUP_MINUTES)
    assert 5 < expected < 1440
    assert runtime_minutes(config, "score", job, clock) == expected
    # training is longer than the cap: capped, and chained over that many submissions
    trainings = [wildcards for rule, wildcards in paper_jobs if rule == "train"]
    assert len(trainings) == 8
    train = 3 * clock.minutes("train", {"experiment": "cifar10_geometric"}) + STARTUP_MINUTES
    assert train > 1440 and runtime_minutes(config, "train", {"experiment": "cifar10_geometric"}, clock) == 1440
    longest = max(3 * clock.minutes("train", w) + STARTUP_MINUTES for w in trainings)
    assert train_submissions(config, clock, trainings) == math.ceil(longest / (1440 - STARTUP_MINUTES / 2)) > 1
    assert train_submissions(config, clock, []) == 1
    # the config's figure replaces the estimate (and needs no cost model); the cap still holds
    config["cluster"]["runtime"] = {"score": 7, "train": 100}
    assert runtime_minutes(config, "score", job, None) == 7
    assert train_submissions(config, None, trainings) == 1
    config["cluster"]["max_runtime"] = 5
    assert runtime_minutes(config, "score", job, None) == 5
    assert train_submissions(config, None, trainings) == 40  # 100 minutes in 2.5-minute pieces
    # rules the FLOP count does not model have stated minutes; a rule without a cost function the cap
    assert runtime_minutes(load_config(PAPER), "toy_scores", {}, clock) == 3 * 30 + STARTUP_MINUTES
    assert runtime_minutes(load_config(PAPER), "a_new_rule", {}, clock) == 1440


def test_a_retried_job_asks_for_twice_the_time_of_the_attempt_before_up_to_the_cap():
    config = load_config(PAPER)
    config["cluster"] |= {"runtime": {"score": 25}, "max_runtime": 120}
    job = {"dataset": "cifar10", "experiment": "cifar10_geometric", "iteration": "5000"}
    assert [runtime_minutes(config, "score", job, None, attempt) for attempt in (1, 2, 3, 4)] == [25, 50, 100, 120]


def test_peak_memory_counts_live_tensors_and_warns_when_a_job_does_not_fit(tmp_path):
    spec = {"arch": "refinenet", "ngf": 8, "channels": 1, "image_size": 8, "num_classes": 10}
    model = build_model(spec)
    outputs = []
    for module in model.modules():
        module.register_forward_hook(lambda m, i, o: outputs.append(o.numel() * 4) if torch.is_tensor(o) else None)
    with torch.no_grad():
        model(torch.rand(64, 1, 8, 8), torch.zeros(64, dtype=torch.long))
    sampling = activation_bytes(spec, 64, training=False)
    # at least the largest layer output is alive at once, never every output at once
    assert max(outputs) <= sampling < sum(outputs)
    training = activation_bytes(spec, 64, training=True)
    assert training > 2 * sampling  # a backward keeps the forward's activations
    assert activation_bytes(spec, 128, training=True) == pytest.approx(2 * training, rel=0.1)

    config = load_config(DEFAULT)
    exp = next(iter(config["experiments"].values()))
    exp["training"]["batch_size"] = 2_000_000
    out = format_estimate(
        estimate(config, "rtx3090", plan(DEFAULT), data_root=tmp_path, gpu_json=tmp_path / "none.json")
    )
    assert "Peak GPU memory per job (fp32; the RTX3090 has 24 GiB)" in out
    assert re.search(r"WARNING: \S+ train needs about \d+\.\d GiB, more than the 24 GiB of a RTX3090", out), out
    assert "computed" in out and "Assumed:" in out and "Measured:" in out


def test_measured_peaks_replace_the_computed_ones_at_the_same_network_and_batch(tmp_path, paper_jobs):
    record = {
        "machine": {"device": "NVIDIA A100-SXM4-40GB"},
        "train": [
            {"precision": "fp32", "channels_last": False, "compile": False, "ngf": 128, "batch": 128, "peak_mib": 10240}
        ],
        "sampling": [{"precision": "fp32", "ngf": 128, "batch": 1000, "peak_mib": 4096}],
    }
    (tmp_path / "gpu.json").write_text(json.dumps(record))
    result = estimate(load_config(PAPER), "a100", paper_jobs, data_root=tmp_path, gpu_json=tmp_path / "gpu.json")
    memory = {(m.experiment, m.kind): m for m in result.memory}
    train, sample = memory[("cifar10_geometric", "train")], memory[("cifar10_geometric", "sample")]
    assert train.source == "measured" and train.gib == pytest.approx(10 + 0.75)
    assert sample.source == "measured" and sample.gib == pytest.approx(4 + 0.75 + 2.0)  # + Inception
    assert memory[("mnist_baseline", "train")].source == "computed"  # another network
    # the speed measured on this card replaces the assumed tensor-core efficiency
    record["train"][0] |= {"precision": "tf32", "it_per_s": 10.0}
    (tmp_path / "gpu.json").write_text(json.dumps(record))
    result = estimate(
        load_config(PAPER), "a100", paper_jobs, data_root=tmp_path, gpu_json=tmp_path / "gpu.json", memory=False
    )
    _, train_step, _ = network_flops(
        {"arch": "refinenet", "ngf": 128, "channels": 3, "image_size": 32, "num_classes": 10}
    )
    assert result.precision == "tf32" and result.efficiency == pytest.approx(10 * 128 * train_step / 156e12)
    assert "measured on NVIDIA A100-SXM4-40GB" in format_estimate(result)
    assert (
        estimate(
            load_config(PAPER), "h100", paper_jobs, data_root=tmp_path, gpu_json=tmp_path / "gpu.json", memory=False
        ).efficiency
        == 0.25
    )


# (card, precision) -> (path, sustained TFLOP/s) by hand: max(fp32 peak x 0.87, tensor-core peak x 0.25).
FASTER_PATH = {
    ("rtx3090", "tf32"): ("fp32", 35.6 * 0.87),  # tensor cores: 35.6 x 0.25 = 8.9
    ("rtx3090", "bf16"): ("fp32", 35.6 * 0.87),  # 71.0 x 0.25 = 17.75
    ("rtx4090", "tf32"): ("fp32", 82.6 * 0.87),  # 82.6 x 0.25 = 20.65
    ("rtx4090", "bf16"): ("fp32", 82.6 * 0.87),  # 165.2 x 0.25 = 41.3
    ("a6000", "tf32"): ("fp32", 38.7 * 0.87),  # 77.4 x 0.25 = 19.35
    ("a6000", "bf16"): ("bf16", 154.8 * 0.25),  # fp32: 33.67
    ("l40s", "tf32"): ("fp32", 91.6 * 0.87),  # 183 x 0.25 = 45.75
    ("l40s", "bf16"): ("bf16", 362.0 * 0.25),  # fp32: 79.69
    ("a100", "tf32"): ("tf32", 156.0 * 0.25),  # fp32: 16.97
    ("h100", "tf32"): ("tf32", 494.7 * 0.25),  # fp32: 58.29
    ("v100", "fp32"): ("fp32", 15.7 * 0.87),
    ("rtx3090", "fp32"): ("fp32", 35.6 * 0.87),
}


@pytest.mark.parametrize(
    ("gpu", "precision"), FASTER_PATH, ids=[f"{gpu}-{precision}" for gpu, precision in FASTER_PATH]
)
def test_each_card_runs_on_the_faster_of_its_fp32_and_tensor_core_paths(gpu, precision, tmp_path):
    path, tflops = FASTER_PATH[(gpu, precision)]
    speed = gpu_speed(load_config(DEFAULT), gpu, precision, gpu_json=tmp_path / "none.json")
    assert (speed.precision, speed.path) == (precision, path)
    assert speed.sustained_flops == pytest.approx(tflops * 1e12)


def test_geforce_cards_cost_the_paper_at_their_fp32_speed_in_its_tf32_precision(paper_jobs):
    """The issue's figures: the paper config was 608.7 RTX 3090-hours and 262.3 RTX 4090-hours in tf32 on
    tensor cores alone, 174.9 and 75.4 in fp32; tf32 now runs on the faster fp32 path, and the cluster
    runtimes of a `cluster.gpu: rtx3090` config follow it."""
    config = load_config(PAPER)
    for gpu, hours in (("rtx3090", 174.9), ("rtx4090", 75.4)):
        result = estimate(config, gpu, paper_jobs, data_root=Path("/nonexistent"), memory=False)
        assert result.precision == "tf32" and result.speed.path == "fp32"
        assert round(sum(result.hours(r) for r in result.rows), 1) == hours
    config["cluster"]["gpu"] = "rtx3090"
    clock = JobClock(config, Path("/nonexistent"))
    job = {"dataset": "cifar10", "experiment": "cifar10_geometric", "iteration": "5000"}
    score = result.row("cifar10_geometric", "score")  # the 4090's row: the same FLOPs on every card
    assert clock.minutes("score", job) == pytest.approx(score.flop / score.jobs / (35.6e12 * 0.87) / 60)
    out = format_estimate(result)
    assert "RTX4090 tf32 on its fp32 path (peak 82.6 TFLOP/s x efficiency 0.87 = 71.9 TFLOP/s sustained)" in out
    assert "faster than its tf32 path (peak 82.6 TFLOP/s x efficiency 0.25 = 20.6 TFLOP/s sustained)" in out


def test_config_files_merge_as_snakemake_merges_them(tmp_path):
    """Later files override keys recursively; a list or scalar is replaced whole; keys only in an earlier
    file stay (Snakemake's `--configfile A B`)."""
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(
        yaml.safe_dump({"seed": 0, "cluster": {"gpu": "v100", "runtime": {"score": 60, "train": 100}}, "x": [1, 2]})
    )
    second.write_text(yaml.safe_dump({"cluster": {"gpu": "rtx3090", "runtime": {"score": 30}}, "x": [3]}))
    assert read_config(first, second) == {
        "seed": 0,
        "cluster": {"gpu": "rtx3090", "runtime": {"score": 30, "train": 100}},
        "x": [3],
    }
    assert read_config(second, first)["cluster"] == {"gpu": "v100", "runtime": {"score": 60, "train": 100}}
    merged = load_config(PAPER, REPO / "config" / "cluster.yaml")
    cluster = yaml.safe_load((REPO / "config" / "cluster.yaml").read_text())["cluster"]
    assert {key: merged["cluster"][key] for key in cluster} == cluster
    assert merged["experiments"] == load_config(PAPER)["experiments"]
    with pytest.raises(NcsnError, match="does not exist"):
        read_config(first, tmp_path / "missing.yaml")


def test_the_gpu_table_has_the_cards_labs_own():
    for card in ("rtx3090", "rtx4090", "a6000", "l40s", "h200", "a100", "v100"):
        assert GPU_PEAK_TFLOPS[card]["fp32"] and GPU_MEMORY_GIB[card]


def test_the_estimate_counts_every_seeds_run(tmp_path):
    """`seeds: 2` trains and scores each experiment twice: the estimate's training doubles."""
    default = yaml.safe_load(DEFAULT.read_text())
    hours = {}
    for seeds in (1, 2):
        path = tmp_path / f"seeds{seeds}.yaml"
        path.write_text(yaml.safe_dump({**default, "seeds": seeds}))
        result = estimate(load_config(path), "v100", plan(path), data_root=tmp_path, memory=False)
        hours[seeds] = sum(result.hours(r) for r in result.rows if r.rule == "train")
    assert hours[1] > 0 and hours[2] == pytest.approx(2 * hours[1])


def test_the_paper_totals_are_those_of_the_estimate_before_it_read_the_workflow_plan(paper_jobs):
    """`ncsn estimate --configfile config/paper.yaml` printed 396.1 V100-hours, 138.7 A100-hours (tf32)
    and 34.07 GB when it walked its own copy of the stages; costing the planned jobs gave the same.
    Since the networks' 5x5 pooling is a depthwise convolution (counted FLOPs, which torch's
    avg_pool2d was not): 396.6 and 138.9."""
    config = load_config(PAPER)
    for gpu, hours in (("v100", 396.6), ("a100", 138.9)):
        result = estimate(config, gpu, paper_jobs, data_root=Path("/nonexistent"), memory=False)
        assert round(sum(result.hours(r) for r in result.rows), 1) == hours
        assert round(sum(r.disk_bytes for r in result.rows) / 1e9, 2) == 34.07
        assert not result.not_costed


def test_a_rule_added_to_the_workflow_changes_the_estimate_with_no_edit_to_its_code(tmp_path):
    """A copy of the workflow gains a figure rule that needs a timed sampling of 7 images: the estimate
    counts one more sample_timing job and lists the new rule, which has no cost function, as not costed."""
    shutil.copy(REPO / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(REPO / "workflow", tmp_path / "workflow")
    config = load_config(DEFAULT)
    before = estimate(config, "v100", plan(DEFAULT, tmp_path / "Snakefile"), data_root=tmp_path, memory=False)
    (tmp_path / "workflow/rules/extra.smk").write_text(
        "rule timing_figure:\n"
        '    input: f"{TIMING}/digits/digits_geometric/n7.npz"\n'
        '    output: f"{FIGURES}/timing_figure.txt"\n'
        '    log: f"{LOGS}/timing_figure.log"\n'
        '    shell: "touch {output}"\n'
    )
    snakefile = (tmp_path / "Snakefile").read_text()
    assert "        all_targets(config),\n" in snakefile
    snakefile = snakefile.replace(
        "        all_targets(config),\n", '        all_targets(config) + [f"{FIGURES}/timing_figure.txt"],\n'
    )
    (tmp_path / "Snakefile").write_text(
        snakefile.replace("\nrule all:", '\ninclude: "workflow/rules/extra.smk"\n\n\nrule all:')
    )
    after = estimate(config, "v100", plan(DEFAULT, tmp_path / "Snakefile"), data_root=tmp_path, memory=False)
    assert before.not_costed == {} and after.not_costed == {"timing_figure": 1}
    assert after.jobs == before.jobs + 2
    timing = after.row("digits_geometric", "sample_timing")
    assert timing.jobs == 1 and timing.flop > 0 and "timed sampling of 7 images" in timing.note(after.sustained_flops)
    assert sum(after.hours(r) for r in after.rows) > sum(before.hours(r) for r in before.rows)
    assert "NOT COSTED: rule timing_figure (1 jobs)" in format_estimate(after)


def test_the_score_jobs_a_loss_topk_selection_adds_after_ranking_are_counted():
    """Snakemake plans the k score jobs of criterion loss_topk only once rank_checkpoints has run:
    the checkpoint's cost function counts them."""
    path = REPO / "config" / "digits_selection.yaml"
    jobs = plan(path)
    config = load_config(path)
    ranked = [w["experiment"] for rule, w in jobs if rule == "rank_checkpoints"]
    assert ranked
    result = estimate(config, "v100", jobs, memory=False)
    for name in ranked:
        k = config["experiments"][name]["selection"]["k"]
        assert not any(rule == "score" and w["experiment"] == name for rule, w in jobs)
        assert result.row(name, "score").jobs == k
