"""ResNet auto-encoder score network of the SSM toy experiment (paper Fig. 1, [Re] Sec. 3.2).

Unconditional: the ResNet encoder-decoder of ``resnet.py`` with widths 32, 64, 64, 128, 128
(ngf = 32), ELU and batch normalisation inside the residual blocks only.
"""

from __future__ import annotations

import torch
from torch import nn

from ncsn.models.resnet import ResNetScore


class LevelFreeBatchNorm(nn.BatchNorm2d):
    """``BatchNorm2d`` with the ``norm(x, levels)`` call signature; ``levels`` is ignored."""

    def forward(self, x: torch.Tensor, levels: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)


def ssm_autoencoder(channels: int, ngf: int = 32) -> ResNetScore:
    """The Fig. 1 auto-encoder; call it as ``model(x)`` (``levels`` is accepted and ignored)."""
    return ResNetScore(channels, ngf, LevelFreeBatchNorm)
