"""``ncsn estimate``: counted FLOPs, the [Re] report's V100 timings, disk, and the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ncsn.commands.estimate import load_config
from ncsn.errors import NcsnError
from ncsn.estimate import INCEPTION_GFLOP, estimate, network_flops
from ncsn.models import build_model, count_parameters

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "config" / "paper.yaml"


@pytest.fixture(scope="module")
def paper_v100():
    return estimate(load_config(PAPER), "v100", data_root=Path("/nonexistent"))


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
    bad = subprocess.run([*run, "--gpu", "v100", "--precision", "bf16"], capture_output=True, text=True)
    assert bad.returncode == 2 and "v100 has no bf16" in bad.stderr and "--precision fp32" in bad.stderr
    with pytest.raises(NcsnError, match="unknown GPU 'tpu'"):
        estimate(load_config(PAPER), "tpu")
