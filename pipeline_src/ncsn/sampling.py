"""Langevin samplers driven by a noise-conditional score: plain Langevin (the baseline, paper
App. B.2), annealed Langevin (Alg. 1) and inpainting (Alg. 2).

One implementation serves images (B, C, H, W) and 2-D points (B, 2), on any device.
``score_fn(x, levels)`` returns scores shaped like ``x``; ``levels`` is a long tensor (B,) of
indices into the descending ``sigmas`` (0 = largest noise). Every step is

    x <- x + alpha/2 * s(x, level) + sqrt(alpha) * z,   z ~ N(0, I),

with ``alpha_i = eps * sigma_i^2 / sigma_L^2`` when annealing. The iterate is never
clamped (only saved images are). Noise is drawn with ``generator`` (on ``x``'s device) for the
whole batch at each step, and ``batch_size`` only splits the score evaluations into chunks,
so the result for a given seed does not depend on ``batch_size``.

A chain whose iterate becomes non-finite (inf/NaN: the step size is too large for the scores)
stops with an NcsnError naming the noise level and step, checked once per level so a GPU is not
synchronised every step. ``allow_divergence=True`` returns the non-finite chains instead, for
callers that count them (paper Fig. 3, where divergence is the finding).

Note: the official code steps ``x + eta * s + sqrt(2 eta) z`` with ``eta = step_lr *
sigma_i^2 / sigma_L^2``, i.e. twice the paper's alpha; we follow the paper's Alg. 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from ncsn.errors import NcsnError

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def uniform_init(
    shape: Sequence[int],
    low: float = 0.0,
    high: float = 1.0,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Initial samples uniform on [low, high]: [0, 1] for images (paper Sec. 5), a box such as
    [-8, 8] for 2-D points (paper App. B.1)."""
    if not high > low:
        raise NcsnError(f"uniform_init: high ({high}) must be larger than low ({low})")
    return torch.rand(tuple(shape), generator=generator, device=device, dtype=dtype) * (high - low) + low


def langevin(
    score_fn: ScoreFn,
    x: torch.Tensor,
    step_size: float,
    n_steps: int,
    generator: torch.Generator | None = None,
    level: int = 0,
    snapshot_every: int | None = None,
    batch_size: int | None = None,
    allow_divergence: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Plain Langevin dynamics: ``n_steps`` steps of size ``step_size`` with the score of one
    noise level (``level``; the baseline has one). Returns the samples, or ``(samples,
    snapshots)`` when ``snapshot_every`` is set (see :func:`annealed_langevin`)."""
    _check_positive_int(n_steps, "n_steps")
    _check_positive_float(step_size, "step_size")
    chain = _Chain(score_fn, x, generator, batch_size, snapshot_every, allow_divergence)
    with torch.inference_mode():
        chain.start()
        for _ in range(n_steps):
            chain.langevin_step(level, step_size)
            chain.tick()
        chain.check_finite(level, step_size)
    return chain.result()


def annealed_langevin(
    score_fn: ScoreFn,
    x_init: torch.Tensor,
    sigmas: torch.Tensor,
    n_steps_each: int,
    eps: float,
    denoise: bool = False,
    snapshot_every: int | None = None,
    generator: torch.Generator | None = None,
    batch_size: int | None = None,
    allow_divergence: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Annealed Langevin dynamics (paper Alg. 1): ``n_steps_each`` steps at each level, step
    ``alpha_i = eps * sigma_i^2 / sigma_L^2``, starting from ``x_init`` (left unchanged).

    ``denoise=True`` adds the final step ``x + sigma_L^2 s(x, L-1)`` (NCSNv2; off in the paper).
    Returns the samples; with ``snapshot_every=k`` returns ``(samples, snapshots)``, where
    ``snapshots`` (on the CPU, shape (S, B, ...)) holds ``x_init`` and the iterate after every
    k-th step (paper Fig. 4), before the optional denoising step.
    """
    steps = _annealing_steps(sigmas, n_steps_each, eps)
    chain = _Chain(score_fn, x_init, generator, batch_size, snapshot_every, allow_divergence)
    with torch.inference_mode():
        chain.start()
        for level, alpha in steps:
            for _ in range(n_steps_each):
                chain.langevin_step(level, alpha)
                chain.tick()
            chain.check_finite(level, alpha, float(sigmas[level]))
        if denoise:
            chain.score_step(len(steps) - 1, float(sigmas[-1]) ** 2)
            chain.tick(snapshot=False)
            chain.check_finite(len(steps) - 1, float(sigmas[-1]) ** 2, float(sigmas[-1]))
    return chain.result()


def inpaint(
    score_fn: ScoreFn,
    x_observed: torch.Tensor,
    mask: torch.Tensor,
    sigmas: torch.Tensor,
    n_steps_each: int,
    eps: float,
    x_init: torch.Tensor | None = None,
    snapshot_every: int | None = None,
    generator: torch.Generator | None = None,
    batch_size: int | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Inpainting with annealed Langevin dynamics (paper Alg. 2, official
    ``anneal_Langevin_dynamics_inpainting``).

    ``mask`` (broadcastable to ``x_observed``; True or 1 = observed) marks the known pixels.
    At each level ``i`` the observation is noised once, ``y = x_observed + sigma_i z``, and
    the observed pixels of the iterate are set to ``y`` at the start of the level and after
    every step. The result carries ``x_observed`` itself in the observed pixels. ``x_init``
    defaults to uniform noise on [0, 1] drawn with ``generator``. Snapshots as in
    :func:`annealed_langevin`.
    """
    steps = _annealing_steps(sigmas, n_steps_each, eps)
    observed_mask = _as_bool_mask(mask, x_observed)
    if x_init is None:
        x_init = uniform_init(x_observed.shape, generator=generator, device=x_observed.device, dtype=x_observed.dtype)
    elif x_init.shape != x_observed.shape:
        raise NcsnError(f"inpaint: x_init has shape {tuple(x_init.shape)} but x_observed has {tuple(x_observed.shape)}")
    chain = _Chain(score_fn, x_init, generator, batch_size, snapshot_every)
    with torch.inference_mode():
        noisy_observation = torch.empty_like(x_observed)
        chain.start()
        for level, alpha in steps:
            noisy_observation.normal_(generator=generator).mul_(float(sigmas[level])).add_(x_observed)
            torch.where(observed_mask, noisy_observation, chain.x, out=chain.x)
            for _ in range(n_steps_each):
                chain.langevin_step(level, alpha)
                torch.where(observed_mask, noisy_observation, chain.x, out=chain.x)
                chain.tick()
            chain.check_finite(level, alpha, float(sigmas[level]))
        torch.where(observed_mask, x_observed, chain.x, out=chain.x)
    return chain.result()


class _Chain:
    """The state shared by all samplers: the iterate, a reused noise buffer, the level
    buffer, chunked score evaluation and snapshot bookkeeping."""

    def __init__(
        self,
        score_fn: ScoreFn,
        x: torch.Tensor,
        generator: torch.Generator | None,
        batch_size: int | None,
        snapshot_every: int | None,
        allow_divergence: bool = False,
    ):
        if x.dim() < 2 or x.shape[0] == 0:
            raise NcsnError(f"sampling: x must be a non-empty batch of shape (B, ...), got {tuple(x.shape)}")
        if batch_size is not None:
            _check_positive_int(batch_size, "batch_size")
        if snapshot_every is not None:
            _check_positive_int(snapshot_every, "snapshot_every")
        self.score_fn = score_fn
        self.x_init = x
        self.generator = generator
        size = x.shape[0] if batch_size is None else batch_size
        self.chunks = [slice(start, start + size) for start in range(0, x.shape[0], size)]
        self.snapshot_every = snapshot_every
        self.snapshots: list[torch.Tensor] = []
        self.steps = 0
        self.allow_divergence = allow_divergence
        self.level_start = 0  # first step of the level being run (for the divergence message)

    def start(self) -> None:
        """Allocate the iterate (a copy of the initial batch) and the buffers; call in inference mode."""
        self.x = self.x_init.clone()
        self.noise = torch.empty_like(self.x)
        self.levels = torch.empty(self.x.shape[0], dtype=torch.long, device=self.x.device)
        # First step after which the iterate held a non-finite value (-1: none); updated on the device.
        self.first_bad_step = torch.full((), -1, dtype=torch.long, device=self.x.device)
        if self.snapshot_every is not None:
            self.snapshots.append(self.x.to("cpu", copy=True))

    def score_step(self, level: int, scale: float) -> None:
        """``x <- x + scale * s(x, level)``, evaluated chunk by chunk."""
        self.levels.fill_(level)
        for chunk in self.chunks:
            self.x[chunk].add_(self.score_fn(self.x[chunk], self.levels[chunk]), alpha=scale)

    def langevin_step(self, level: int, alpha: float) -> None:
        """One Langevin step of size ``alpha``: ``x <- x + alpha/2 s(x, level) + sqrt(alpha) z``."""
        self.score_step(level, alpha / 2)
        self.noise.normal_(generator=self.generator)
        self.x.add_(self.noise, alpha=math.sqrt(alpha))

    def tick(self, snapshot: bool = True) -> None:
        """Count a finished step, note on the device whether it left non-finite values, and keep a
        snapshot every ``snapshot_every`` steps."""
        self.steps += 1
        if not self.allow_divergence:
            newly_bad = (self.first_bad_step < 0) & ~torch.isfinite(self.x).all()
            self.first_bad_step = torch.where(newly_bad, self.steps, self.first_bad_step)
        if snapshot and self.snapshot_every is not None and self.steps % self.snapshot_every == 0:
            self.snapshots.append(self.x.to("cpu", copy=True))

    def check_finite(self, level: int, alpha: float, sigma: float | None = None) -> None:
        """Raise NcsnError if a step of the level just run made the iterate non-finite (one sync per level)."""
        start, self.level_start = self.level_start, self.steps
        if self.allow_divergence:
            return
        bad = int(self.first_bad_step)
        if bad < 0:
            return
        chains = int((~torch.isfinite(self.x.flatten(1))).any(dim=1).sum())
        noise = f"noise level {level} (sigma = {sigma:.4g})" if sigma is not None else f"noise level {level}"
        raise NcsnError(
            f"sampling diverged: the iterate became non-finite (inf/NaN) at {noise}, step {bad - start} of that level "
            f"(step {bad} overall, step size alpha = {alpha:.4g}); {chains} of {self.x.shape[0]} chains are non-finite. "
            "Lower the step size (sampling.eps) or check the score model."
        )

    def result(self) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The samples (and snapshots), cloned outside inference mode so callers may modify them."""
        samples = self.x.clone()
        if self.snapshot_every is None:
            return samples
        return samples, torch.stack(self.snapshots)


def _annealing_steps(sigmas: torch.Tensor, n_steps_each: int, eps: float) -> list[tuple[int, float]]:
    """Validate the annealing settings and return ``(level, alpha_level)`` for every level."""
    _check_positive_int(n_steps_each, "n_steps_each")
    _check_positive_float(eps, "eps")
    if not isinstance(sigmas, torch.Tensor) or sigmas.dim() != 1 or sigmas.numel() == 0:
        raise NcsnError("sampling: sigmas must be a non-empty 1-D tensor (see ncsn.schedules.make_sigmas)")
    values = sigmas.tolist()
    if min(values) <= 0 or any(a < b for a, b in zip(values, values[1:])):
        raise NcsnError(f"sampling: sigmas must be positive and in descending order, got {values}")
    return [(level, eps * (sigma / values[-1]) ** 2) for level, sigma in enumerate(values)]


def _as_bool_mask(mask: torch.Tensor, x_observed: torch.Tensor) -> torch.Tensor:
    """The observed-pixel mask as a bool tensor on ``x_observed``'s device, checked for shape and values."""
    try:
        torch.broadcast_shapes(mask.shape, x_observed.shape)
    except RuntimeError:
        raise NcsnError(
            f"inpaint: mask of shape {tuple(mask.shape)} does not broadcast to the images' shape {tuple(x_observed.shape)}"
        ) from None
    if mask.dtype != torch.bool:
        if not bool(((mask == 0) | (mask == 1)).all()):
            raise NcsnError("inpaint: mask values must be 0 (unknown pixel) or 1 (observed pixel)")
        mask = mask == 1
    return mask.to(x_observed.device)


def _check_positive_int(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise NcsnError(f"sampling: {name} is {value!r}; it must be a whole number >= 1")


def _check_positive_float(value: float, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise NcsnError(f"sampling: {name} is {value!r}; it must be a finite number > 0")
