"""Conditional instance normalisation ++ (NCSN paper, App. A), fused into one affine pass.

Per noise level ``y`` the layer holds gamma, alpha (initialised N(1, 0.02), or 1 as the [Re]
report's code with ``init="ones"``) and beta (0). Two forms (``form``):

    official: out = gamma * ((x - mu) / sqrt(var + eps) + alpha * (mu - m) / sqrt(v + eps)) + beta
    paper:    out = gamma * (x - mu) / sqrt(var + eps) + beta + alpha * (mu - m) / sqrt(v + eps)

``official`` is the official code's (ermongroup/ncsn ``ConditionalInstanceNorm2dPlus``: gamma also
scales the alpha term); ``paper`` is the NCSN paper's App. A.1 equation and the [Re] report's code.

with ``mu, var`` the per-channel spatial mean and biased variance (instance norm) and ``m, v``
the mean and *unbiased* variance of ``mu`` across channels, as the official code. The whole
expression is one per-(example, channel) scale and shift, so it costs one statistics pass and
one fused multiply-add over ``x`` instead of the half-dozen full-size ops of the textbook form.
"""

from __future__ import annotations

import torch
from torch import nn


class CondInstanceNormPlus(nn.Module):
    """CondInstanceNorm++ over ``num_features`` channels, one (gamma, alpha, beta) per level."""

    def __init__(
        self,
        num_features: int,
        num_classes: int,
        eps: float = 1e-5,
        init: str = "official",
        correction: int = 1,
        form: str = "official",
    ) -> None:
        super().__init__()
        if init not in ("official", "ones"):
            raise ValueError(f"init must be 'official' (N(1, 0.02)) or 'ones', got {init!r}")
        if form not in ("official", "paper"):
            raise ValueError(f"form must be 'official' (gamma scales the alpha term) or 'paper', got {form!r}")
        self.form = form
        self.num_features = num_features
        self.eps = eps
        self.correction = correction  # of the variance across channels: 1 official, 0 the [Re] code's
        # One row per level: [gamma | alpha | beta], the official layout and initialisation.
        self.embed = nn.Embedding(num_classes, 3 * num_features)
        with torch.no_grad():
            if init == "official":
                self.embed.weight[:, : 2 * num_features].normal_(1.0, 0.02)
            else:
                self.embed.weight[:, : 2 * num_features].fill_(1.0)
            self.embed.weight[:, 2 * num_features :].zero_()

    def forward(self, x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
        stats_in = x if x.dtype == torch.float32 else x.float()  # statistics in fp32 under autocast
        # Two-pass (centred) instance statistics: as accurate as torch.var_mean, ~4x faster on CPU.
        mu = stats_in.mean(dim=(2, 3))
        centred_norm = torch.linalg.vector_norm(stats_in - mu[:, :, None, None], dim=(2, 3))
        var = centred_norm.square() / (x.shape[2] * x.shape[3])  # biased, as instance norm
        v, m = torch.var_mean(mu, dim=1, keepdim=True, correction=self.correction)  # across channels
        gamma, alpha, beta = self.embed(levels).chunk(3, dim=1)
        rstd = torch.rsqrt(var + self.eps)
        scale = gamma * rstd
        mean_term = alpha * (mu - m) * torch.rsqrt(v + self.eps)
        if self.form == "official":
            shift = torch.addcmul(beta, gamma, mean_term - mu * rstd)
        else:
            shift = beta + mean_term - scale * mu
        return torch.addcmul(shift[:, :, None, None], x, scale[:, :, None, None])
