"""Score-matching objectives: denoising score matching over all noise levels (paper Eq. 5-6),
sliced score matching (Song et al., 2019) for the toy experiments, and its annealed form over
all noise levels (the official code's ``algo: ssm`` for NCSN)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ncsn.errors import NcsnError

REDUCTIONS = ("mean", "none")


def dsm_loss(
    model: nn.Module | Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    sigmas: torch.Tensor,
    levels: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Denoising score matching with lambda(sigma) = sigma^2, as the official
    ``anneal_dsm_score_estimation``.

    Each example gets one noise level ``i`` (drawn uniformly with ``generator`` when
    ``levels`` is None), is perturbed to ``x~ = x + sigma_i z``, and scores
    ``0.5 * sigma_i^2 * || s(x~, i) + (x~ - x) / sigma_i^2 ||^2`` summed over all pixels.
    ``reduction="mean"`` averages over the batch; ``"none"`` returns the per-example
    losses (shape ``(B,)``), e.g. to log the loss per noise level. Random draws happen in
    the official order: levels first, then the noise.
    """
    if reduction not in REDUCTIONS:
        raise NcsnError(f"dsm_loss: reduction is {reduction!r}; use one of {list(REDUCTIONS)}")
    if sigmas.dim() != 1 or sigmas.numel() == 0:
        raise NcsnError(f"dsm_loss: sigmas must be a non-empty 1-D tensor, got shape {tuple(sigmas.shape)}")
    batch = x.shape[0]
    if levels is None:
        levels = torch.randint(sigmas.numel(), (batch,), generator=generator, device=x.device)
    elif levels.shape != (batch,) or levels.dtype != torch.long:
        raise NcsnError(
            f"dsm_loss: levels must be a long tensor of shape ({batch},), "
            f"got {levels.dtype} of shape {tuple(levels.shape)}"
        )
    used = sigmas.to(device=x.device, dtype=x.dtype)[levels].view(batch, *([1] * (x.dim() - 1)))
    perturbed = x + torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype) * used
    target = -(perturbed - x) / used**2
    scores = model(perturbed, levels)
    per_example = 0.5 * (scores.float() - target).pow(2).flatten(1).sum(dim=1) * used.flatten() ** 2
    return per_example.mean() if reduction == "mean" else per_example


def sliced_score_matching_loss(
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    n_particles: int = 1,
    variance_reduction: bool = False,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Sliced score matching (SSM), or its variance-reduced form SSM-VR, averaged over the batch
    (``reduction="none"``: per example, shape ``(B,)``).

    For each example and each of ``n_particles`` standard normal projections ``v``:
    ``v^T (d s / d x) v + 0.5 (v^T s)^2`` (SSM) or ``v^T (d s / d x) v + 0.5 ||s||^2``
    (SSM-VR). Since E[v v^T] = I, both estimate the Fisher divergence
    ``0.5 E||s - grad log p||^2`` minus a constant that does not depend on ``s``
    (Song et al., 2019, Eq. 6-8). ``score_fn`` maps a batch (2-D points or images)
    to same-shape scores; gradients flow to its parameters for training.
    """
    if n_particles < 1:
        raise NcsnError(f"sliced_score_matching_loss: n_particles is {n_particles}; it must be >= 1")
    if reduction not in REDUCTIONS:
        raise NcsnError(f"sliced_score_matching_loss: reduction is {reduction!r}; use one of {list(REDUCTIONS)}")
    with torch.enable_grad():
        copies = x.detach().unsqueeze(0).expand(n_particles, *x.shape).reshape(-1, *x.shape[1:])
        copies.requires_grad_(True)
        vectors = torch.randn(copies.shape, generator=generator, device=x.device, dtype=x.dtype)
        scores = score_fn(copies)
        projected = (scores * vectors).flatten(1).sum(dim=1)
        # grad of sum_n v_n^T s(x_n) w.r.t. x_n is (ds/dx)^T v_n; one more dot with v gives v^T (ds/dx) v.
        (jacobian_t_v,) = torch.autograd.grad(projected.sum(), copies, create_graph=True)
        trace_term = (vectors * jacobian_t_v).flatten(1).sum(dim=1)
        if variance_reduction:
            norm_term = 0.5 * scores.pow(2).flatten(1).sum(dim=1)
        else:
            norm_term = 0.5 * projected.pow(2)
        per_example = (trace_term + norm_term).view(n_particles, -1).mean(dim=0)
        return per_example.mean() if reduction == "mean" else per_example


def annealed_ssm_loss(
    model: nn.Module | Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    sigmas: torch.Tensor,
    levels: torch.Tensor,
    n_particles: int = 1,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """SSM-VR of the noise-conditional score at each example's level, weighted by sigma_i^2: the
    official ``anneal_sliced_score_estimation_vr`` (training ``algo: ssm``).

    Each example is perturbed to ``x~ = x + sigma_i z`` and scores
    ``sigma_i^2 (v^T (ds/dx~) v + 0.5 ||s(x~, i)||^2)``, averaged over ``n_particles`` projections.
    """
    batch = x.shape[0]
    used = sigmas.to(device=x.device, dtype=x.dtype)[levels].view(batch, *([1] * (x.dim() - 1)))
    perturbed = x + torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype) * used
    particle_levels = levels.repeat(n_particles)  # the copies are particle-major: (n_particles * B,)
    per_example = (
        sliced_score_matching_loss(
            lambda y: model(y, particle_levels).float(),
            perturbed,
            n_particles=n_particles,
            variance_reduction=True,
            generator=generator,
            reduction="none",
        )
        * used.flatten() ** 2
    )
    return per_example.mean() if reduction == "mean" else per_example
