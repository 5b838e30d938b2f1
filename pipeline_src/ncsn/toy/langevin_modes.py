"""Paper Fig. 3 ([Re] Sec. 4): plain vs annealed Langevin with exact scores on the 2-D mixture.

Langevin dynamics with the exact data score gets the relative weights of two well-separated
modes wrong (each chain stays in the basin it starts in); annealed Langevin over the exact
scores of the mixture at each noise level recovers them (levels: App. B.1's and the official
code's 20 -> 1; the [Re] report read 20 -> e^0.1). The number that shows it: the fraction
of samples nearest to each mode, for exact i.i.d. samples, plain and annealed Langevin.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from ncsn.errors import NcsnError
from ncsn.sampling import annealed_langevin, langevin, uniform_init
from ncsn.schedules import make_sigmas
from ncsn.toy.gmm import GaussianMixture


def mode_fractions(points: torch.Tensor, means: torch.Tensor) -> dict[str, Any]:
    """Fraction of the finite points nearest to each mean, and how many points diverged (inf/NaN)."""
    finite = torch.isfinite(points).all(dim=1)
    good = points[finite]
    counts = torch.zeros(len(means), dtype=torch.long)
    if len(good):
        nearest = torch.cdist(good.double(), means.double()).argmin(dim=1)
        counts = torch.bincount(nearest, minlength=len(means))
    total = int(finite.sum())
    return {
        "num_samples": len(points),
        "diverged": len(points) - total,
        "fractions": [float(c) / total if total else None for c in counts.tolist()],
    }


def run(
    settings: Mapping[str, Any], gmm: GaussianMixture, generator: torch.Generator
) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """Exact samples, plain Langevin and annealed Langevin for each configured schedule.

    ``settings``: ``num_samples``, ``init_half_width``, ``langevin: {n_steps, eps}``,
    ``annealed: {n_steps_each, eps}``, ``schedules: {label: schedule spec}``.
    Returns the point sets by method label and one row per method with the mode fractions.
    """
    n = int(settings["num_samples"])
    if n < 1:
        raise NcsnError(f"toy.langevin_modes.num_samples is {n}; it must be >= 1")
    if not settings.get("schedules"):
        raise NcsnError("toy.langevin_modes.schedules is empty; give at least one annealing schedule")
    points: dict[str, torch.Tensor] = {"exact": gmm.sample(n, generator=generator)}
    half_width = float(settings["init_half_width"])
    init = uniform_init((n, gmm.dim), -half_width, half_width, generator=generator)
    plain = settings["langevin"]
    points["Langevin"] = langevin(
        lambda x, levels: gmm.score(x),
        init,
        step_size=float(plain["eps"]),
        n_steps=int(plain["n_steps"]),
        generator=generator,
        allow_divergence=True,  # diverged chains are counted per method below: that is the finding
    )
    annealed = settings["annealed"]
    sigma_values: dict[str, list[float]] = {}
    for label, spec in settings["schedules"].items():
        sigmas = make_sigmas(spec).double()
        sigma_values[label] = sigmas.tolist()
        points[f"annealed ({label})"] = annealed_langevin(
            gmm.score_fn(sigmas),
            init,
            sigmas,
            n_steps_each=int(annealed["n_steps_each"]),
            eps=float(annealed["eps"]),
            generator=generator,
            allow_divergence=True,
        )
    rows = []
    means = gmm.means
    for method, xy in points.items():
        stats = mode_fractions(xy, means)
        schedule = method[len("annealed (") : -1] if method.startswith("annealed") else None
        row = {
            "method": method,
            "schedule": schedule,
            "sigma_first": sigma_values[schedule][0] if schedule else None,
            "sigma_last": sigma_values[schedule][-1] if schedule else None,
            "num_samples": stats["num_samples"],
            "diverged": stats["diverged"],
        }
        for k, frac in enumerate(stats["fractions"]):
            row[f"mode_{k}_fraction"] = frac
        rows.append(row)
    rows.append(
        {
            "method": "true weights",
            "schedule": None,
            "sigma_first": None,
            "sigma_last": None,
            "num_samples": None,
            "diverged": None,
            **{f"mode_{k}_fraction": float(w) for k, w in enumerate(gmm.weights.tolist())},
        }
    )
    return {k: v.numpy() for k, v in points.items()}, rows
