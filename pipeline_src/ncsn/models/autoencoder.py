"""ResNet auto-encoder score networks of the SSM toy experiment (paper Fig. 1, App. B.1).

Unconditional, widths 32, 64, 64, 128, 128 (ngf = 32), ELU, two down-samplings. ``norm: group``
(default) is the official code's network (ResScore: post-activation blocks with GroupNorm(8));
``norm: batch`` is the [Re] report's reading (Sec. 3.2): the pre-activation ResNet encoder-decoder
of ``resnet.py`` with batch normalisation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ncsn.models.resnet import ResNetScore

NORMS = ("group", "batch")  # model.norm of ssm_autoencoder: official GroupNorm net, [Re] BatchNorm net


class LevelFreeBatchNorm(nn.BatchNorm2d):
    """``BatchNorm2d`` with the ``norm(x, levels)`` call signature; ``levels`` is ignored."""

    def forward(self, x: torch.Tensor, levels: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)


def ssm_autoencoder(channels: int, ngf: int = 32, norm: str = "group") -> nn.Module:
    """The Fig. 1 auto-encoder; call it as ``model(x)`` (``levels`` is accepted and ignored)."""
    if norm == "group":
        return OfficialSSMAutoencoder(channels, ngf)
    return ResNetScore(channels, ngf, LevelFreeBatchNorm)


# ----------------------------------------------------------------------------------------------
# The official code's network for Fig. 1 (models/scorenet.py ResScore): post-activation residual
# blocks, conv -> GroupNorm(8) -> ELU -> conv -> GroupNorm(8), plus the input, then ELU; the first
# conv of a down block has stride 2 (a stride-2 3x3 conv on the shortcut), the second transposed
# conv of an up block has stride 2. Widths ngf x (1, 2, 2, 4, 4) as the paper's App. B.1.

GROUPS = 8  # the official GroupNorm(8, channels)


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with the official 8 groups, or gcd(8, channels) groups when 8 does not divide the
    channels (narrow CPU variants such as ngf 4: 4 channels get 4 groups of one channel each)."""
    return nn.GroupNorm(math.gcd(GROUPS, channels), channels)


class OfficialResBlock(nn.Module):
    """One block of the official ResScore: a ConvResBlock (``kind`` "conv" or "down") or a
    DeconvResBlock ("deconv" or "up")."""

    def __init__(self, c_in: int, c_out: int, kind: str) -> None:
        super().__init__()
        conv = nn.ConvTranspose2d if kind in ("deconv", "up") else nn.Conv2d
        first_stride, second_stride = (2, 1) if kind == "down" else ((1, 2) if kind == "up" else (1, 1))
        self.conv1 = conv(c_in, c_out, 3, stride=first_stride, padding=1)
        self.norm1 = group_norm(c_out)
        self.conv2 = conv(c_out, c_out, 3, stride=second_stride, padding=1)
        self.norm2 = group_norm(c_out)
        self.kind = kind
        self.shortcut = conv(c_in, c_out, 3, stride=2, padding=1) if kind in ("down", "up") else None
        if self.shortcut is None and c_in != c_out:
            raise ValueError("a block without resampling keeps its width (identity shortcut)")

    def forward(self, x: torch.Tensor, size: torch.Size | None = None) -> torch.Tensor:
        """``size``: the output (H, W) of an "up" block (undoes an odd-size down-sampling)."""
        h = F.elu(self.norm1(self.conv1(x)))
        h = self.norm2(self.conv2(h, output_size=size) if self.kind == "up" else self.conv2(h))
        skip = (
            x
            if self.shortcut is None
            else (self.shortcut(x, output_size=size) if self.kind == "up" else self.shortcut(x))
        )
        return F.elu(h + skip)


class OfficialSSMAutoencoder(nn.Module):
    """The official ResScore for ``channels``-channel images; called as ``model(x)`` (``levels`` ignored)."""

    def __init__(self, channels: int, ngf: int = 32) -> None:
        super().__init__()
        w = [ngf, 2 * ngf, 2 * ngf, 4 * ngf, 4 * ngf]
        self.begin_conv = nn.Conv2d(channels, ngf, 3, padding=1)
        self.encoder = nn.ModuleList(
            OfficialResBlock(c_in, c_out, kind)
            for c_in, c_out, kind in zip([ngf] + w[:-1], w, ["conv", "down", "conv", "down", "conv"])
        )
        rev = w[::-1]
        self.decoder = nn.ModuleList(
            OfficialResBlock(c_in, c_out, kind)
            for c_in, c_out, kind in zip(rev, rev[1:] + [ngf], ["deconv", "up", "deconv", "up", "deconv"])
        )
        self.end_conv = nn.Conv2d(ngf, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, levels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.begin_conv(2 * x - 1)
        sizes = []
        for block in self.encoder:
            if block.kind == "down":
                sizes.append(h.shape[2:])
            h = block(h)
        for block in self.decoder:
            h = block(h, sizes.pop() if block.kind == "up" else None)
        return self.end_conv(h)
