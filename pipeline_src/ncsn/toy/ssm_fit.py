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
    log_every: int,
) -> list[dict[str, float]]:
    """Adam (``settings.lr``) on the SSM loss of ``next_batch()`` for ``settings.iterations`` steps.

    ``settings`` may override ``log_every``, ``variance_reduction`` (default true: SSM-VR, as the
    official code trains both toys) and ``n_particles`` (1). Returns one ``{iteration, loss}`` row every
    ``log_every`` iterations and at the last one.
    """
    optimiser = torch.optim.Adam(model.parameters(), lr=float(settings["lr"]))
    every = max(1, int(settings.get("log_every", log_every)))
    reduce = bool(settings.get("variance_reduction", True))
    particles = int(settings.get("n_particles", 1))
    iterations = int(settings["iterations"])
    log = []
    for it in range(1, iterations + 1):
        loss = sliced_score_matching_loss(model, next_batch(), n_particles=particles, variance_reduction=reduce, generator=generator)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if it % every == 0 or it == iterations:
            log.append({"iteration": it, "loss": float(loss.detach())})
    return log
