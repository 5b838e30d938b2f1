"""MLP score network for 2-D toy data (paper Fig. 2; official toy runner: 2-128-128-2, softplus)."""

from __future__ import annotations

import torch
from torch import nn


class MLPScore(nn.Module):
    """``layers`` linear layers of width ``hidden`` with softplus between them; the output is
    linear (unbounded scores). Unconditional: ``levels`` is accepted and ignored."""

    def __init__(self, dim: int = 2, hidden: int = 128, layers: int = 3) -> None:
        super().__init__()
        widths = [dim] + [hidden] * (layers - 1) + [dim]
        modules: list[nn.Module] = []
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            modules += [nn.Linear(c_in, c_out), nn.Softplus()]
        self.net = nn.Sequential(*modules[:-1])

    def forward(self, x: torch.Tensor, levels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x)
