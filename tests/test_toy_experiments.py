"""Toy experiments (paper Figs. 1-3): mode fractions of the samplers, score errors, the commands' files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from ncsn.cli import main
from ncsn.toy.eps_sweep import divergence_by_level
from ncsn.toy.gmm import GaussianMixture
from ncsn.toy.langevin_modes import mode_fractions
from ncsn.toy.scores import region_errors, score_grid
from ncsn.toy.ssm_noise import optimal_loss, running_mean, tail_spread

GMM = {"weights": [0.2, 0.8], "means": [[-5.0, -5.0], [5.0, 5.0]], "std": 1.0}
# the paper's Fig. 3 settings (App. B.1: levels 20 -> 1, as the official code) and the Sec. 4.3 text's levels
LANGEVIN_MODES = {
    "num_samples": 1280,
    "init_half_width": 8.0,
    "langevin": {"n_steps": 1000, "eps": 0.1},
    "annealed": {"n_steps_each": 100, "eps": 0.1},
    "schedules": {
        "app_b1": {"kind": "geometric", "sigma_begin": 20.0, "sigma_end": 1.0, "num_levels": 10},
        "sec_4_3": {"kind": "geometric", "sigma_begin": 10.0, "sigma_end": 0.1, "num_levels": 10},
    },
}


def run_cli(*args: str) -> None:
    assert main([str(a) for a in args]) == 0


def assert_image_files(*paths) -> None:
    for path in paths:
        assert path.is_file() and path.stat().st_size > 1000, f"{path} missing or empty"


@pytest.fixture(scope="module")
def langevin_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("langevin_modes")
    settings = {"seed": 0, "gmm": GMM, "experiment": LANGEVIN_MODES}
    run_cli("toy", "langevin-modes", "--settings", json.dumps(settings), "--out-dir", out)
    return out


def test_annealed_langevin_recovers_mode_weights(langevin_dir):
    table = pd.read_csv(langevin_dir / "mode_fractions.csv").set_index("method")
    heavy = table["mode_1_fraction"]  # the (5, 5) mode, weight 0.8
    assert heavy["true weights"] == 0.8
    assert abs(heavy["exact"] - 0.8) < 0.04
    assert abs(heavy["annealed (app_b1)"] - 0.8) <= 0.05
    # plain Langevin keeps each chain in its starting basin: about half, far from 0.8
    assert abs(heavy["Langevin"] - 0.5) < 0.06
    # the levels the paper states (10 -> 0.1) blow up: the first step is 0.1 * (10 / 0.1)^2 = 1000
    assert table.loc["annealed (sec_4_3)", "diverged"] == 1280
    rows = json.loads((langevin_dir / "mode_fractions.json").read_text())["rows"]
    assert [r["method"] for r in rows] == list(table.index)
    assert_image_files(langevin_dir / "fig3_langevin.png", langevin_dir / "fig3_langevin.pdf")
    with np.load(langevin_dir / "samples.npz") as samples:
        assert samples["annealed_app_b1"].shape == (1280, 2)


def test_mode_fractions_counts_nearest_mode_and_divergence():
    means = torch.tensor([[-5.0, -5.0], [5.0, 5.0]])
    points = torch.tensor(
        [[-4.0, -6.0], [0.5, 0.2], [6.0, 4.0], [-0.1, -0.3], [float("nan"), 0.0], [float("inf"), 1.0]]
    )
    stats = mode_fractions(points, means)
    assert stats == {"num_samples": 6, "diverged": 2, "fractions": [0.5, 0.5]}


def test_region_errors_against_exact_scores():
    gmm = GaussianMixture(**GMM)
    grid = score_grid(8.0, 9)
    assert grid.shape == (9, 9, 2) and grid[0, -1].tolist() == [8.0, -8.0]
    exact = gmm.score(grid.reshape(-1, 2)).reshape(grid.shape)
    perfect = region_errors(grid, exact, exact, gmm.means, radius=2.5)
    assert perfect["near_modes_relative_error"] == 0.0 and perfect["far_from_modes_relative_error"] == 0.0
    assert perfect["grid_points_near"] + perfect["grid_points_far"] == 81
    halved = region_errors(grid, exact, exact * 0.5, gmm.means, radius=2.5)
    assert halved["near_modes_relative_error"] == pytest.approx(0.5)


def test_scores_command_writes_figure(tmp_path):
    settings = {
        "seed": 0,
        "gmm": GMM,
        "experiment": {
            "model": {"arch": "mlp", "hidden": 32},
            "iterations": 60,
            "batch_size": 64,
            "lr": 1e-3,
            "log_every": 20,
            "grid": {"half_width": 8.0, "points": 11},
            "near_radius": 2.5,
        },
    }
    run_cli("toy", "scores", "--settings", json.dumps(settings), "--out-dir", tmp_path)
    assert_image_files(tmp_path / "fig2_scores.png", tmp_path / "fig2_scores.pdf")
    with np.load(tmp_path / "scores.npz") as arrays:
        assert arrays["learned"].shape == arrays["exact"].shape == (11, 11, 2)
        assert np.isfinite(arrays["learned"]).all()
        assert arrays["density"].shape == (201, 201)
        assert arrays["density"].max() == pytest.approx(0.8 / (2 * np.pi), rel=0.05)
    assert list(pd.read_csv(tmp_path / "loss.csv")["iteration"]) == [20, 40, 60]


@pytest.mark.slow
def test_ssm_noise_command_writes_both_curves(tmp_path):
    rng = np.random.default_rng(0)
    images = (rng.integers(0, 17, size=(64, 8, 8, 1)) * 16).astype(np.uint8)
    np.savez(tmp_path / "train.npz", images=images, labels=np.zeros(64, dtype=np.int64))
    settings = {
        "seed": 0,
        "device": "cpu",
        "experiment": {
            "dataset": "digits",
            "model": {"arch": "ssm_autoencoder", "ngf": 4},
            "iterations": 4,
            "batch_size": 16,
            "lr": 1e-3,
            "noise_variance": 1e-4,
            "log_every": 2,
        },
    }
    run_cli(
        "toy",
        "ssm-noise",
        "--data",
        tmp_path / "train.npz",
        "--settings",
        json.dumps(settings),
        "--out-dir",
        tmp_path / "out",
    )
    loss = pd.read_csv(tmp_path / "out" / "loss.csv")
    assert sorted(loss["data"].unique()) == ["clean data", "perturbed, N(0, 0.0001)"]
    assert list(loss["iteration"][:2]) == [2, 4] and np.isfinite(loss["loss"]).all()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["noise_variance"] == 1e-4 and "tail_std" in summary["clean data"]
    perturbed = summary["perturbed, N(0, 0.0001)"]
    assert {"relative_tail_std", "rebound"} <= set(perturbed) and "optimal_loss" not in summary["clean data"]
    assert -0.5 * 64 / 1e-4 * 1.2 < perturbed["optimal_loss"] < -0.5 * 64 / 1e-4 * 0.8  # ~ -D / (2 sigma^2)
    assert_image_files(tmp_path / "out" / "fig1_ssm_loss.png", tmp_path / "out" / "fig1_ssm_loss.pdf")


def fig1_like_curves(n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Fixed stand-ins for the two Fig. 1 curves: one settles with estimator noise, one dives and keeps jumping back."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    settling = -1.6e4 * (1 - np.exp(-t / 60)) * (1 + 0.2 * rng.standard_normal(n))
    fluctuating = -5e4 * (1 - np.exp(-t / 60)) * (1 + 0.5 * rng.standard_normal(n))
    for start in (130, 190, 270, 350):  # spikes and slow recoveries, as on clean digits
        fluctuating[start : start + 40] = np.linspace(2e4, fluctuating[start + 40], 40)
    return settling, fluctuating


def test_tail_spread_tells_a_settling_loss_from_a_fluctuating_one():
    settling, fluctuating = (tail_spread([{"loss": float(v)} for v in curve]) for curve in fig1_like_curves())
    assert settling["relative_tail_std"] < 0.3 < 0.6 < fluctuating["relative_tail_std"]
    assert settling["rebound"] < 0.2 < 0.8 < fluctuating["rebound"]
    monotone = tail_spread([{"loss": -float(i)} for i in range(100)])
    assert monotone["rebound"] == 0 and monotone["final"] == monotone["min"] == -99
    np.testing.assert_allclose(running_mean(np.array([1.0, 3.0, 5.0, 7.0]), 2), [1.0, 2.0, 4.0, 6.0])


def test_optimal_loss_of_perturbed_points_is_minus_d_over_two_sigma_squared():
    points = torch.eye(16).view(16, 1, 4, 4)  # 16 points 1.4 apart, sigma 0.01: the mixture score is exact per point
    value = optimal_loss(points, 0.01, 1024, torch.Generator().manual_seed(0))
    assert value == pytest.approx(-16 / (2 * 0.01**2), rel=0.05)


def test_toy_command_errors(tmp_path, capsys):
    assert main(["toy", "scores", "--settings", "{}", "--out-dir", str(tmp_path)]) == 2
    assert "'experiment'" in capsys.readouterr().err
    assert main(["toy", "ssm-noise", "--settings", '{"experiment": {}}', "--out-dir", str(tmp_path)]) == 2
    assert "'dataset' is a required property" in capsys.readouterr().err
    assert (
        main(["toy", "ssm-noise", "--settings", '{"experiment": {"dataset": "digits"}}', "--out-dir", str(tmp_path)])
        == 2
    )
    assert "--data" in capsys.readouterr().err
    assert main(["toy", "scores", "--settings", '{"experiment": {"log_evry": 5}}', "--out-dir", str(tmp_path)]) == 2
    assert "experiment.log_evry: unknown key; did you mean `log_every`?" in capsys.readouterr().err
    assert not any(tmp_path.iterdir()), "a failed command must leave nothing behind"


def test_eps_sweep_counts_divergence_per_level_and_finds_working_eps(tmp_path):
    # [Re] Fig. 11 under the Sec. 4.3 levels 10 -> 0.1. With component std sigma_i the linear part of a
    # step multiplies x - mean by 1 - alpha_i / (2 sigma_i^2) = 1 - 50 eps: beyond 1 in size for
    # eps > 0.04, so eps 0.1 overflows float32 within the first level's 100 steps (4^100 > 3e38).
    settings = {
        "seed": 0,
        "gmm": GMM,
        "experiment": {
            "num_samples": 400,
            "init_half_width": 8.0,
            "n_steps_each": 100,
            "eps": [0.1, 0.001, 1e-6],
            "schedule": {"kind": "geometric", "sigma_begin": 10.0, "sigma_end": 0.1, "num_levels": 10},
        },
    }
    run_cli("toy", "eps-sweep", "--settings", json.dumps(settings), "--out-dir", tmp_path)
    rows = {r["eps"]: r for r in json.loads((tmp_path / "divergence.json").read_text())["rows"]}
    assert rows[0.1]["diverged"] == 400 and rows[0.1]["diverged_per_level"] == [400] + [0] * 9
    assert rows[0.1]["first_diverging_level"] == 0 and rows[0.1]["first_alpha"] == pytest.approx(1000.0, rel=1e-6)
    stable = rows[0.001]
    assert stable["diverged"] == 0 and stable["first_diverging_level"] is None
    assert abs(stable["mode_1_fraction"] - 0.8) < 4 * np.sqrt(0.16 / 400)
    assert stable["spread"] == pytest.approx(stable["target_spread"], rel=0.2)  # ends in N(mean, 0.1^2 I)
    assert rows[1e-6]["spread"] > 10 * rows[1e-6]["target_spread"]  # too small a step: chains barely move
    assert len(pd.read_csv(tmp_path / "divergence.csv")) == 3
    assert_image_files(tmp_path / "fig11_eps_sweep.png", tmp_path / "fig11_eps_sweep.pdf")


def test_divergence_by_level_counts_each_chain_once():
    nan = float("nan")
    snapshots = torch.tensor(
        [
            [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]],  # start
            [[nan, 0.0], [1.0, 1.0], [2.0, 2.0]],  # after level 0: chain 0 diverged
            [[nan, nan], [1.0, float("inf")], [2.0, 2.0]],  # after level 1: chain 1
            [[nan, nan], [nan, nan], [2.0, 2.0]],
        ]
    )
    assert divergence_by_level(snapshots) == [1, 1, 0]
