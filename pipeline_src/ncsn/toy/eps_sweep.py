"""[Re] Fig. 11: annealed Langevin with exact scores of the 2-D mixture over a range of eps,
under the noise levels the paper's text states (geometric 10 -> 0.1).

The [Re] report found these levels overflow at the paper's eps = 0.1 and that smaller eps did not
give satisfying samples either. The numbers that show it, per eps: how many chains diverged
(non-finite iterate, counted, never raised) and at which level each first did, the share of the
finite samples per mode, and how wide the finite samples sit around their mode compared with the
last level's component standard deviation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ncsn.errors import NcsnError
from ncsn.sampling import annealed_langevin, uniform_init
from ncsn.schedules import make_sigmas
from ncsn.toy.gmm import GaussianMixture
from ncsn.toy.langevin_modes import mode_fractions


def divergence_by_level(snapshots: torch.Tensor) -> list[int]:
    """Chains that became non-finite during each level; ``snapshots`` (1 + L, B, D) holds the start
    and the iterate after every level (a chain that diverged stays non-finite)."""
    bad = ~torch.isfinite(snapshots).all(dim=2)  # (1 + L, B)
    return (bad[1:] & ~bad[:-1]).sum(dim=1).tolist()


def spread(points: torch.Tensor, means: torch.Tensor) -> float | None:
    """Per-coordinate root mean square distance of the finite points to their nearest mean."""
    finite = points[torch.isfinite(points).all(dim=1)].double()
    if not len(finite):
        return None
    nearest = torch.cdist(finite, means.double()).argmin(dim=1)
    return float((finite - means.double()[nearest]).pow(2).mean().sqrt())


def run(
    settings: Mapping[str, Any], gmm: GaussianMixture, generator: torch.Generator
) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """One annealed Langevin run per ``settings.eps`` from the same uniform start.

    ``settings``: ``num_samples``, ``init_half_width``, ``n_steps_each``, ``eps`` (a list),
    ``schedule`` (a schedule spec). Returns the final points by label and one row per eps.
    """
    n, eps_values = int(settings["num_samples"]), [float(e) for e in settings["eps"]]
    if n < 1 or not eps_values:
        raise NcsnError(f"toy.eps_sweep: num_samples ({n}) must be >= 1 and eps a non-empty list")
    sigmas = make_sigmas(settings["schedule"]).double()
    steps = int(settings["n_steps_each"])
    half_width = float(settings["init_half_width"])
    init = uniform_init((n, gmm.dim), -half_width, half_width, generator=generator)
    target_std = math.sqrt(float(gmm.level_variance(float(sigmas[-1]))))
    points, rows = {}, []
    for eps in eps_values:
        x, snapshots = annealed_langevin(
            gmm.score_fn(sigmas),
            init,
            sigmas,
            n_steps_each=steps,
            eps=eps,
            snapshot_every=steps,
            generator=generator,
            allow_divergence=True,  # which eps diverge at which level is the finding: counted, not raised
        )
        per_level = divergence_by_level(snapshots)
        stats = mode_fractions(x, gmm.means)
        first = next((i for i, count in enumerate(per_level) if count), None)
        rows.append(
            {
                "eps": eps,
                "sigma_first": float(sigmas[0]),
                "sigma_last": float(sigmas[-1]),
                "first_alpha": eps * float(sigmas[0] / sigmas[-1]) ** 2,
                "num_samples": n,
                "diverged": stats["diverged"],
                "first_diverging_level": first,
                "diverged_per_level": per_level,
                **{f"mode_{k}_fraction": frac for k, frac in enumerate(stats["fractions"])},
                "spread": spread(x, gmm.means),
                "target_spread": target_std,
            }
        )
        points[f"eps {eps:g}"] = x.numpy()
    return points, rows
