"""CondRefineNet: the NCSN score network, faithful to the official ``CondRefineNetDilated``.

Structure (ngf = base width, all norms CondInstanceNorm++, activation ELU):
begin 3x3 conv; four cascades of two pre-activation residual blocks (widths ngf, 2ngf, 2ngf,
2ngf; dilations 1, 1, 2, 4; only the second cascade halves the resolution, by mean pooling);
four RefineBlocks (residual conv units -> multi-resolution fusion -> chained residual pooling ->
output RCUs, the last with three units); norm, ELU, end 3x3 conv. The input is mapped to 2x - 1
and the output is not divided by sigma (NCSN v1). Parameter counts match the official network
exactly (CIFAR-10 30,117,635; MNIST 7,638,657).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ncsn.models.normalization import CondInstanceNormPlus


class SameConv3x3(nn.Conv2d):
    """3x3 convolution keeping the spatial size (padding = dilation).

    When the dilation is at least the feature map's size (dilation 4 on the 4x4 maps of 8x8
    inputs), every off-centre tap reads zero padding, so the convolution equals a 1x1 one with
    the centre weights: computed that way, exactly, at a ninth of the cost.
    """

    def __init__(self, c_in: int, c_out: int, dilation: int = 1, bias: bool = True) -> None:
        super().__init__(c_in, c_out, 3, padding=dilation, dilation=dilation, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dilation[0] >= x.shape[2] and self.dilation[1] >= x.shape[3]:
            return F.conv2d(x, self.weight[:, :, 1:2, 1:2], self.bias)
        return super().forward(x)


conv3x3 = SameConv3x3


def box_mean5(x: torch.Tensor, count_include_pad: bool = True) -> torch.Tensor:
    """``F.avg_pool2d(x, 5, stride=1, padding=2, count_include_pad=...)`` as a depthwise
    convolution with a 1/25 box kernel: the same sums (to float rounding), and 3-15x faster on CPU
    at the networks' sizes (torch's CPU average pooling is slow on small maps; docs/performance.md).
    Without ``count_include_pad`` each sum is divided by the number of taps inside the image."""
    channels = x.shape[1]
    kernel = x.new_full((channels, 1, 5, 5), 1 / 25)
    total = F.conv2d(x, kernel, padding=2, groups=channels)
    if count_include_pad:
        return total
    inside = F.conv2d(x.new_ones(1, 1, *x.shape[2:]), kernel[:1], padding=2)
    return total / inside


class CondResBlock(nn.Module):
    """Pre-activation residual block: norm, ELU, conv, norm, ELU, conv, plus shortcut.

    ``first`` marks the first block of cascades 2-4 (the official ``resample='down'`` blocks):
    its first conv keeps the input width, its shortcut is always a conv, and, when not
    dilated, both paths end with 2x2 mean pooling (the only down-sampling of the network;
    the shortcut is then a 1x1 conv, otherwise a dilated 3x3 conv).
    """

    def __init__(self, c_in: int, c_out: int, num_classes: int, dilation: int = 1, first: bool = False) -> None:
        super().__init__()
        mid = c_in if first else c_out
        self.norm1 = CondInstanceNormPlus(c_in, num_classes)
        self.conv1 = conv3x3(c_in, mid, dilation)
        self.norm2 = CondInstanceNormPlus(mid, num_classes)
        self.conv2 = conv3x3(mid, c_out, dilation)
        self.pool = first and dilation == 1
        self.shortcut: nn.Module | None = None
        if self.pool:
            self.shortcut = nn.Conv2d(c_in, c_out, 1)
        elif first or c_in != c_out:
            self.shortcut = conv3x3(c_in, c_out, dilation)

    def forward(self, x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.elu(self.norm1(x, levels), inplace=True))
        h = self.conv2(F.elu(self.norm2(h, levels), inplace=True))
        skip = x if self.shortcut is None else self.shortcut(x)
        if self.pool:
            h, skip = F.avg_pool2d(h, 2), F.avg_pool2d(skip, 2)
        return h + skip


class CondRCU(nn.Module):
    """Residual conv units: ``n_units`` x (2 x (norm, ELU, bias-free 3x3 conv)) + identity."""

    def __init__(self, features: int, n_units: int, num_classes: int, n_stages: int = 2) -> None:
        super().__init__()
        self.norms = nn.ModuleList(CondInstanceNormPlus(features, num_classes) for _ in range(n_units * n_stages))
        self.convs = nn.ModuleList(conv3x3(features, features, bias=False) for _ in range(n_units * n_stages))
        self.n_stages = n_stages

    def forward(self, x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
        h = x
        for k, (norm, conv) in enumerate(zip(self.norms, self.convs)):
            h = conv(F.elu(norm(h, levels), inplace=True))
            if (k + 1) % self.n_stages == 0:  # end of a unit: add its input, start the next unit
                h = x = h + x
        return h


class CondMSF(nn.Module):
    """Multi-resolution fusion: per input norm -> 3x3 conv (with bias), bilinearly up-sampled
    (align_corners=True) to the output size and summed."""

    def __init__(self, in_planes: list[int], features: int, num_classes: int) -> None:
        super().__init__()
        self.norms = nn.ModuleList(CondInstanceNormPlus(c, num_classes) for c in in_planes)
        self.convs = nn.ModuleList(conv3x3(c, features) for c in in_planes)

    def forward(self, xs: list[torch.Tensor], levels: torch.Tensor, size: torch.Size) -> torch.Tensor:
        total = None
        for x, norm, conv in zip(xs, self.norms, self.convs):
            h = conv(norm(x, levels))
            if h.shape[2:] != size:  # same-size align_corners interpolation is the identity
                h = F.interpolate(h, size=size, mode="bilinear", align_corners=True)
            total = h if total is None else total + h
        return total


class CondCRP(nn.Module):
    """Chained residual pooling: ELU, then ``n_stages`` x (norm, 5x5 average pool (zeros counted,
    as the official ``nn.AvgPool2d(5, 1, 2)``), bias-free 3x3 conv), each added to the running sum."""

    def __init__(self, features: int, num_classes: int, n_stages: int = 2) -> None:
        super().__init__()
        self.norms = nn.ModuleList(CondInstanceNormPlus(features, num_classes) for _ in range(n_stages))
        self.convs = nn.ModuleList(conv3x3(features, features, bias=False) for _ in range(n_stages))

    def forward(self, x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
        x = F.elu(x)
        path = x
        for norm, conv in zip(self.norms, self.convs):
            path = conv(box_mean5(norm(path, levels)))
            x = x + path
        return x


class CondRefineBlock(nn.Module):
    """RefineBlock: 2 RCUs per input, fusion (when several inputs), CRP, output RCUs (3 if last)."""

    def __init__(self, in_planes: list[int], features: int, num_classes: int, end: bool = False) -> None:
        super().__init__()
        self.adapt = nn.ModuleList(CondRCU(c, 2, num_classes) for c in in_planes)
        self.msf = CondMSF(in_planes, features, num_classes) if len(in_planes) > 1 else None
        self.crp = CondCRP(features, num_classes)
        self.output = CondRCU(features, 3 if end else 1, num_classes)

    def forward(self, xs: list[torch.Tensor], levels: torch.Tensor) -> torch.Tensor:
        hs = [adapt(x, levels) for adapt, x in zip(self.adapt, xs)]
        h = hs[0] if self.msf is None else self.msf(hs, levels, xs[0].shape[2:])
        return self.output(self.crp(h, levels), levels)


def refine_and_output(net: nn.Module, features: list[torch.Tensor], levels: torch.Tensor) -> torch.Tensor:
    """The decoder both RefineNets share: refine the deepest cascade's features, fuse each shallower
    one on the way up (``net.refines``), then norm, ELU and ``net.end_conv``."""
    h = net.refines[0]([features[3]], levels)
    for refine, skip in zip(net.refines[1:], reversed(features[:3])):
        h = refine([skip, h], levels)
    return net.end_conv(F.elu(net.end_norm(h, levels)))


class CondRefineNet(nn.Module):
    """The official NCSN v1 score network ``s(x, level)`` for (B, C, H, W) inputs in [0, 1]."""

    def __init__(self, channels: int, ngf: int, num_classes: int) -> None:
        super().__init__()
        self.begin_conv = nn.Conv2d(channels, ngf, 3, padding=1)
        w = 2 * ngf
        self.cascades = nn.ModuleList(
            [
                nn.ModuleList([CondResBlock(ngf, ngf, num_classes), CondResBlock(ngf, ngf, num_classes)]),
                nn.ModuleList([CondResBlock(ngf, w, num_classes, first=True), CondResBlock(w, w, num_classes)]),
                nn.ModuleList([CondResBlock(w, w, num_classes, 2, first=True), CondResBlock(w, w, num_classes, 2)]),
                nn.ModuleList([CondResBlock(w, w, num_classes, 4, first=True), CondResBlock(w, w, num_classes, 4)]),
            ]
        )
        self.refines = nn.ModuleList(
            [
                CondRefineBlock([w], w, num_classes),
                CondRefineBlock([w, w], w, num_classes),
                CondRefineBlock([w, w], ngf, num_classes),
                CondRefineBlock([ngf, ngf], ngf, num_classes, end=True),
            ]
        )
        self.end_norm = CondInstanceNormPlus(ngf, num_classes)
        self.end_conv = nn.Conv2d(ngf, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
        h = self.begin_conv(2 * x - 1)
        features = []
        for cascade in self.cascades:
            for block in cascade:
                h = block(h, levels)
            features.append(h)
        return refine_and_output(self, features, levels)
