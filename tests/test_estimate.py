"""``ncsn estimate``: counted FLOPs, the [Re] report's V100 timings, disk, and the command line."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from ncsn.commands.estimate import load_config
from ncsn.errors import NcsnError
from ncsn.estimate import (
    GPU_MEMORY_GIB,
    GPU_PEAK_TFLOPS,
    INCEPTION_GFLOP,
    STARTUP_MINUTES,
    activation_bytes,
    estimate,
    format_estimate,
    network_flops,
    runtime_minutes,
    train_submissions,
)
from ncsn.models import build_model, count_parameters

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "config" / "paper.yaml"


@pytest.fixture(scope="module")
def paper_v100():
    return estimate(load_config(PAPER), "v100", data_root=Path("/nonexistent"), memory=False)


def _stage(result, experiment: str, stage: str):
    return next(s for s in result.stages if s.experiment == experiment and s.stage == stage)


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


def test_counted_flops_equal_an_independent_count_of_the_convolutions():
    """FlopCounterMode on the meta device against forward hooks summing 2 * output elements * kernel
    MACs of every convolution and linear layer, on a real forward pass."""
    spec = {"arch": "refinenet", "ngf": 8, "channels": 3, "image_size": 16, "num_classes": 10}
    forward, train_step, params = network_flops(spec)
    torch.manual_seed(0)
    model = build_model(spec)
    total = 0

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
    stages = {s.stage for s in paper_v100.stages if s.experiment == "mnist_geometric"}
    assert stages == {"train", "heldout", "sample", "evaluate", "timing"}
    # the selection scores keep their samples: 40 checkpoints x 1000 CIFAR-10 images
    assert _stage(paper_v100, "cifar10_geometric", "score").disk_bytes == 40 * 1000 * 32 * 32 * 3


def test_held_out_loss_timed_sampling_and_the_reused_sweep_cell_are_counted(paper_v100):
    config = load_config(PAPER)
    exp = config["experiments"]["cifar10_geometric"]
    forward, _, _ = network_flops({**exp["model"], "channels": 3, "image_size": 32, "num_classes": 10})
    heldout = exp["selection"]["heldout"]["num_images"]
    assert _stage(paper_v100, "cifar10_geometric", "heldout").flop == 40 * 10 * heldout * forward
    assert _stage(paper_v100, "cifar10_geometric", "timing").flop == (1 + 100 + 1000) * 10 * 100 * forward
    # 4 eps (both readings of the paper's: 2e-5 and 4e-5) x T in (10, 100, 1000) at 10 levels, less the
    # cell at the experiment's own eps and T = 100, which copies the chosen checkpoint's selection score
    # of as many samples; 11 cells extract features
    m = config["figures"]["sweep"]["num_samples"]
    assert m == exp["selection"]["num_samples"] and len(config["figures"]["sweep"]["eps"]) == 4
    sweep = _stage(paper_v100, "cifar10_geometric", "sweep")
    assert sweep.flop == pytest.approx(
        m * (4 * 10 * (10 + 100 + 1000) - 10 * 100) * forward + m * 11 * INCEPTION_GFLOP * 1e9
    )


def test_a_given_checkpoint_is_neither_trained_nor_selected():
    official = estimate(load_config(REPO / "config" / "paper_official.yaml"), "v100", data_root=Path("/nonexistent"))
    assert {s.stage for s in official.stages} == {"prepare", "ref-stats", "sample", "evaluate"}


def test_the_command_prints_totals_and_its_assumptions_and_refuses_unknown_gpus(tmp_path):
    run = [sys.executable, "-m", "ncsn", "estimate", "--configfile", str(PAPER), "--data-root", str(tmp_path)]
    out = subprocess.run([*run, "--gpu", "a100"], capture_output=True, text=True, check=True).stdout
    assert "A100 tf32" in out and "TOTAL" in out and "calibrated on the [Re] report's V100" in out
    assert re.search(r"^  score +\d+ min$", out, re.M) and "max_runtime 1440 min" in out, out[-1500:]
    assert re.search(r"^  train runs as up to [2-9] submission", out, re.M), out[-1500:]
    bad = subprocess.run([*run, "--gpu", "v100", "--precision", "bf16"], capture_output=True, text=True)
    assert bad.returncode == 2 and "v100 has no bf16" in bad.stderr and "--precision fp32" in bad.stderr
    with pytest.raises(NcsnError, match="unknown GPU 'tpu'"):
        estimate(load_config(PAPER), "tpu")


def test_each_submitted_rule_asks_for_safety_times_its_largest_job_capped_and_overridable(paper_v100):
    config = load_config(PAPER)
    assert config["cluster"]["safety"] == 3 and config["cluster"]["max_runtime"] == 1440
    score = _stage(paper_v100, "cifar10_geometric", "score")
    # every score job is alike: the stage's work over its jobs, at the V100's sustained speed
    minutes = score.flop / score.jobs / (GPU_PEAK_TFLOPS["v100"]["fp32"] * 1e12 * paper_v100.efficiency) / 60
    assert paper_v100.job_minutes("score", "cifar10_geometric") == pytest.approx(minutes)
    expected = math.ceil(3 * minutes + STARTUP_MINUTES)
    assert 5 < expected < 1440
    assert runtime_minutes(config, "score", "cifar10_geometric", paper_v100) == expected
    # training is longer than the cap: capped, and chained over that many submissions
    train = 3 * paper_v100.job_minutes("train", "cifar10_geometric") + STARTUP_MINUTES
    assert train > 1440 and runtime_minutes(config, "train", "cifar10_geometric", paper_v100) == 1440
    longest = max(3 * paper_v100.job_minutes("train", n) + STARTUP_MINUTES for n in config["experiments"])
    assert train_submissions(config, paper_v100) == math.ceil(longest / (1440 - STARTUP_MINUTES / 2)) > 1
    # the config's figure replaces the estimate (and needs no cost model); the cap still holds
    config["cluster"]["runtime"] = {"score": 7, "train": 100}
    assert runtime_minutes(config, "score", "cifar10_geometric", None) == 7
    assert train_submissions(config, None) == 1
    config["cluster"]["max_runtime"] = 5
    assert runtime_minutes(config, "score", "cifar10_geometric", None) == 5
    assert train_submissions(config, None) == 40  # 100 minutes in 2.5-minute pieces
    # rules the FLOP count does not model have stated minutes
    assert runtime_minutes(load_config(PAPER), "toy_scores", None, paper_v100) == 3 * 30 + STARTUP_MINUTES


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

    config = load_config(REPO / "config" / "config.yaml")
    exp = next(iter(config["experiments"].values()))
    exp["training"]["batch_size"] = 2_000_000
    out = format_estimate(estimate(config, "rtx3090", data_root=tmp_path, gpu_json=tmp_path / "none.json"))
    assert "Peak GPU memory per job (fp32; the RTX3090 has 24 GiB)" in out
    assert re.search(r"WARNING: \S+ train needs about \d+\.\d GiB, more than the 24 GiB of a RTX3090", out), out
    assert "computed" in out and "Assumed:" in out and "Measured:" in out


def test_measured_peaks_replace_the_computed_ones_at_the_same_network_and_batch(tmp_path):
    record = {
        "machine": {"device": "NVIDIA A100-SXM4-40GB"},
        "train": [
            {"precision": "fp32", "channels_last": False, "compile": False, "ngf": 128, "batch": 128, "peak_mib": 10240}
        ],
        "sampling": [{"precision": "fp32", "ngf": 128, "batch": 1000, "peak_mib": 4096}],
    }
    (tmp_path / "gpu.json").write_text(json.dumps(record))
    result = estimate(load_config(PAPER), "a100", data_root=tmp_path, gpu_json=tmp_path / "gpu.json")
    memory = {(m.experiment, m.kind): m for m in result.memory}
    train, sample = memory[("cifar10_geometric", "train")], memory[("cifar10_geometric", "sample")]
    assert train.source == "measured" and train.gib == pytest.approx(10 + 0.75)
    assert sample.source == "measured" and sample.gib == pytest.approx(4 + 0.75 + 2.0)  # + Inception
    assert memory[("mnist_baseline", "train")].source == "computed"  # another network
    # the speed measured on this card replaces the assumed tensor-core efficiency
    record["train"][0] |= {"precision": "tf32", "it_per_s": 10.0}
    (tmp_path / "gpu.json").write_text(json.dumps(record))
    result = estimate(load_config(PAPER), "a100", data_root=tmp_path, gpu_json=tmp_path / "gpu.json", memory=False)
    _, train_step, _ = network_flops(
        {"arch": "refinenet", "ngf": 128, "channels": 3, "image_size": 32, "num_classes": 10}
    )
    assert result.precision == "tf32" and result.efficiency == pytest.approx(10 * 128 * train_step / 156e12)
    assert "measured on NVIDIA A100-SXM4-40GB" in format_estimate(result)
    assert (
        estimate(
            load_config(PAPER), "h100", data_root=tmp_path, gpu_json=tmp_path / "gpu.json", memory=False
        ).efficiency
        == 0.25
    )


def test_the_gpu_table_has_the_cards_labs_own():
    for card in ("rtx3090", "rtx4090", "a6000", "l40s", "h200", "a100", "v100"):
        assert GPU_PEAK_TFLOPS[card]["fp32"] and GPU_MEMORY_GIB[card]


def test_the_estimate_counts_every_seeds_run(tmp_path):
    """`seeds: 2` trains and scores each experiment twice: the estimate's training doubles."""
    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    hours = {}
    for seeds in (1, 2):
        path = tmp_path / f"seeds{seeds}.yaml"
        path.write_text(yaml.safe_dump({**default, "seeds": seeds}))
        result = estimate(load_config(path), "v100", data_root=tmp_path, memory=False)
        hours[seeds] = sum(result.hours(s) for s in result.stages if s.stage == "train")
    assert hours[1] > 0 and hours[2] == pytest.approx(2 * hours[1])
