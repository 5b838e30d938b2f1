"""A Gaussian mixture with a shared isotropic standard deviation, with exact densities and
scores, also at the noise levels annealed Langevin visits (paper Sec. 3.2, Figs. 2-3)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from ncsn.errors import NcsnError

# What the mixture "at noise level sigma" is. component_std: the official and [Re] toy code's
# (GMMDistAnneal), each component N(mean_k, sigma^2 I); convolved: the mixture convolved with
# N(0, sigma^2 I), components N(mean_k, (std^2 + sigma^2) I) (the perturbed data of Sec. 4.1).
NOISE_MODELS = ("component_std", "convolved")


class GaussianMixture:
    """``sum_k w_k N(mean_k, std^2 I)`` in D dimensions (D = 2 for the paper's toys).

    At a noise level sigma it stays a mixture with the same weights and means, whose
    per-component variance ``level_variance(sigma)`` depends on ``noise`` (see NOISE_MODELS),
    so the scores of every density the sampler visits are exact.
    """

    def __init__(
        self, weights: Sequence[float], means: Sequence[Sequence[float]], std: float = 1.0, noise: str = "component_std"
    ):
        self.weights = torch.as_tensor(weights, dtype=torch.float64)
        self.means = torch.as_tensor(means, dtype=torch.float64)
        if self.weights.dim() != 1 or self.means.dim() != 2 or self.means.shape[0] != self.weights.numel():
            raise NcsnError(
                f"GaussianMixture: need K weights and a (K, D) array of means, got weights of shape "
                f"{tuple(self.weights.shape)} and means of shape {tuple(self.means.shape)}"
            )
        if bool((self.weights <= 0).any()) or abs(float(self.weights.sum()) - 1.0) > 1e-6:
            raise NcsnError(f"GaussianMixture: weights {self.weights.tolist()} must be positive and sum to 1")
        if not std > 0:
            raise NcsnError(f"GaussianMixture: std is {std}; it must be > 0")
        if noise not in NOISE_MODELS:
            raise NcsnError(f"GaussianMixture: noise is {noise!r}; use one of {list(NOISE_MODELS)}")
        self.std = float(std)
        self.noise = noise

    @classmethod
    def paper(cls, noise: str = "component_std") -> GaussianMixture:
        """The paper's mixture: 0.2 N((-5, -5), I) + 0.8 N((5, 5), I)."""
        return cls(weights=[0.2, 0.8], means=[[-5.0, -5.0], [5.0, 5.0]], std=1.0, noise=noise)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(
        self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu"
    ) -> torch.Tensor:
        """Draw ``n`` exact samples, float32 of shape (n, D)."""
        device = torch.device(device)
        component = torch.multinomial(self.weights.to(device), n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator, device=device, dtype=torch.float64)
        return (self.means.to(device)[component] + self.std * noise).float()

    def level_variance(self, sigma: float | torch.Tensor | None) -> float | torch.Tensor:
        """Per-component variance at noise level ``sigma`` (None: the mixture itself, ``std^2``)."""
        if sigma is None:
            return self.std**2
        return sigma**2 if self.noise == "component_std" else self.std**2 + sigma**2

    def log_prob(self, x: torch.Tensor, sigma: float | torch.Tensor | None = None) -> torch.Tensor:
        """Log density at ``x`` (B, D) at noise level ``sigma`` (None: the mixture itself)."""
        log_joint, var = self._log_joint(x, sigma)
        log_norm = -0.5 * self.dim * torch.log(2 * math.pi * var)
        return (torch.logsumexp(log_joint, dim=1) + log_norm.squeeze(1)).to(x.dtype)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """grad_x log p(x) of the mixture itself."""
        return self.perturbed_score(x, None)

    def perturbed_score(self, x: torch.Tensor, sigma: float | torch.Tensor | None) -> torch.Tensor:
        """grad_x log q_sigma(x) for ``x`` (B, D); ``sigma`` a number or one value per row (B,).

        The posterior-weighted pull towards the means: ``sum_k r_k(x) (mean_k - x) / level_variance(sigma)``.
        """
        log_joint, var = self._log_joint(x, sigma)
        responsibilities = torch.softmax(log_joint, dim=1)  # (B, K)
        x64 = x.to(torch.float64)
        pulled = responsibilities @ self.means.to(x.device) - x64
        return (pulled / var).to(x.dtype)

    def score_fn(self, sigmas: torch.Tensor) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """Adapter for the samplers: ``(x, levels) -> perturbed_score(x, sigmas[levels])``."""
        sigmas = torch.as_tensor(sigmas, dtype=torch.float64)

        def score(x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
            return self.perturbed_score(x, sigmas.to(x.device)[levels])

        return score

    def _log_joint(self, x: torch.Tensor, sigma: float | torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """log w_k + log N(x; mean_k, var I) without the shared normaliser, and var as (B or 1, 1)."""
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise NcsnError(f"GaussianMixture: points must have shape (B, {self.dim}), got {tuple(x.shape)}")
        x64 = x.to(torch.float64)
        if sigma is not None:
            sigma = torch.as_tensor(sigma, dtype=torch.float64, device=x.device).reshape(-1, 1)
        var = torch.as_tensor(self.level_variance(sigma), dtype=torch.float64, device=x.device).reshape(-1, 1)
        squared = (x64[:, None, :] - self.means.to(x.device)).pow(2).sum(dim=2)  # (B, K)
        return torch.log(self.weights.to(x.device)) - squared / (2 * var), var
