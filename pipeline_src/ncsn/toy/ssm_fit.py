"""The sliced-score-matching fitting loop shared by the toy experiments (paper Figs. 1 and 2)."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import torch

from ncsn.losses import sliced_score_matching_loss


def fit_ssm(
    model: torch.nn.Module,
    next_batch: Callable[[], torch.Tensor],
    settings: Mapping[str, Any],
    generator: torch.Generator,
) -> list[dict[str, float]]:
    """Adam (``settings.lr``) on the SSM loss of ``next_batch()`` for ``settings.iterations`` steps.

    ``settings`` is a toy block with its defaults filled (``ncsn.settings``): also ``log_every``,
    ``variance_reduction``, ``n_particles``. Returns one ``{iteration, loss}`` row every
    ``log_every`` iterations and at the last one.
    """
    optimiser = torch.optim.Adam(model.parameters(), lr=float(settings["lr"]))
    every, reduce, particles = (
        int(settings["log_every"]),
        bool(settings["variance_reduction"]),
        int(settings["n_particles"]),
    )
    iterations = int(settings["iterations"])
    log = []
    for it in range(1, iterations + 1):
        loss = sliced_score_matching_loss(
            model, next_batch(), n_particles=particles, variance_reduction=reduce, generator=generator
        )
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if it % every == 0 or it == iterations:
            log.append({"iteration": it, "loss": float(loss.detach())})
    return log
