"""Paper Fig. 2 ([Re] Fig. 2): exact scores of the 2-D mixture vs an MLP trained with sliced score matching.

Score estimation is accurate only near the modes, where the training data are: the experiment
reports the mean relative error of the learned scores near the modes and far from them.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from ncsn.errors import NcsnError
from ncsn.models import build_model
from ncsn.toy.gmm import GaussianMixture
from ncsn.toy.ssm_fit import fit_ssm

DENSITY_POINTS = 201  # resolution of the density image under the score arrows


def train_mlp(
    settings: Mapping[str, Any], gmm: GaussianMixture, generator: torch.Generator
) -> tuple[torch.nn.Module, list[dict[str, float]]]:
    """Fit the toy MLP (``settings.model``) to the mixture with SSM-VR, as the official toy code
    (``sliced_score_estimation_vr``; paper App. B.1 says "sliced score matching").

    Every iteration draws a fresh batch of ``batch_size`` exact samples. Returns the model and
    the loss log (one row every ``log_every`` iterations).
    """
    iterations, batch = int(settings["iterations"]), int(settings["batch_size"])
    if iterations < 1 or batch < 1:
        raise NcsnError(f"toy.scores: iterations ({iterations}) and batch_size ({batch}) must be >= 1")
    torch.manual_seed(int(generator.initial_seed()))  # parameter initialisation follows the run's seed
    model = build_model({"arch": "mlp", **settings["model"]})
    log = fit_ssm(model, lambda: gmm.sample(batch, generator=generator), settings, generator)
    return model.eval(), log


def score_grid(half_width: float, points: int) -> torch.Tensor:
    """(points, points, 2) grid over [-half_width, half_width]^2, x along columns, y along rows."""
    axis = torch.linspace(-half_width, half_width, points, dtype=torch.float64)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xs, ys], dim=-1)


def region_errors(
    grid: torch.Tensor, exact: torch.Tensor, learned: torch.Tensor, means: torch.Tensor, radius: float
) -> dict[str, float]:
    """Mean relative error ||s_theta - s|| / ||s|| on grid points within ``radius`` of a mode and beyond it."""
    flat = grid.reshape(-1, 2)
    near = torch.cdist(flat, means.to(flat)).min(dim=1).values <= radius
    rel = (learned - exact).reshape(-1, 2).norm(dim=1) / exact.reshape(-1, 2).norm(dim=1).clamp_min(1e-12)
    return {
        "near_modes_relative_error": float(rel[near].mean()) if near.any() else float("nan"),
        "far_from_modes_relative_error": float(rel[~near].mean()) if (~near).any() else float("nan"),
        "near_radius": radius,
        "grid_points_near": int(near.sum()),
        "grid_points_far": int((~near).sum()),
    }


def run(settings: Mapping[str, Any], gmm: GaussianMixture, generator: torch.Generator) -> dict[str, Any]:
    """Train the MLP, evaluate exact and learned scores on the grid; arrays for the figure plus a summary."""
    model, log = train_mlp(settings, gmm, generator)
    grid = score_grid(float(settings["grid"]["half_width"]), int(settings["grid"]["points"]))
    flat = grid.reshape(-1, 2)
    with torch.no_grad():
        learned = model(flat.float()).double().reshape(grid.shape)
    exact = gmm.score(flat).reshape(grid.shape)
    fine = score_grid(float(settings["grid"]["half_width"]), DENSITY_POINTS)  # smooth background for the figure
    density = gmm.log_prob(fine.reshape(-1, 2)).exp().reshape(fine.shape[:2])
    summary = region_errors(grid, exact, learned, gmm.means, float(settings["near_radius"]))
    return {
        "grid": grid.numpy(),
        "density": density.numpy(),
        "exact": exact.numpy(),
        "learned": learned.numpy(),
        "loss_log": log,
        "summary": {"iterations": int(settings["iterations"]), **summary},
    }
