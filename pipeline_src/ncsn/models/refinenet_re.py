"""The [Re] report's RefineNet as it ran (Xemnas0/NCSN-TF2.0, ``model/layers.py``), for regenerating its rows.

[Re] Sec. 3.2 lists where it departs from the official ``CondRefineNetDilated``
(:class:`ncsn.models.refinenet.CondRefineNet`); its code settles what the text leaves open:

- one pre-activation residual block per cascade (official: two);
- dilations 1, 1, 2, 4 with the 2x2 mean pooling in the second cascade's block: the code's
  (its comment: "we used dilation=1, but it should have been 2"; the text says 1, 2, 2, 4);
- the width doubles in the first convolution of the second cascade, and a skip connection gets
  a 1x1 convolution only where the width changes (official: 3x3 skip convolutions in the first
  block of every cascade);
- every convolution has a bias, the residual conv units included (official: bias-free);
- each RefineBlock's residual conv units map their input to the block's width (a 1x1 skip where it
  differs), then fusion (bilinear up-sampling with half-pixel centres, TensorFlow's default),
  chained residual pooling (5x5 mean pool that ignores the padding, TensorFlow's ``SAME``) and the
  output units; the widths are 2ngf, 2ngf, 2ngf, ngf (official: 2ngf, 2ngf, ngf, ngf);
- CondInstanceNorm++ in the paper's form ``gamma h + beta + alpha mu_hat`` (App. A.1; the official
  code's is ``gamma (h + alpha mu_hat) + beta``), alpha and gamma initialised to 1 (official
  N(1, 0.02)), eps 1e-6 and the biased variance across channels;
- every convolution initialised as Keras' ``Conv2D`` is: Glorot-uniform kernels
  (``U(-sqrt(6 / (fan_in + fan_out)), +...)``, fans over the kernel's taps) and zero biases
  (official: PyTorch's default, Kaiming-uniform with a = sqrt(5));
- the input is fed as it is, in [0, 1] (official: 2x - 1).
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ncsn.models.normalization import CondInstanceNormPlus
from ncsn.models.refinenet import box_mean5, refine_and_output

# [Re]'s code: alpha, gamma = 1, beta = 0, tf.nn.moments (biased) with eps 1e-6
ReNorm = partial(CondInstanceNormPlus, eps=1e-6, init="ones", correction=0, form="paper")
RE_DILATIONS = (1, 1, 2, 4)  # as run; cascade 2 pools


def conv3x3(c_in: int, c_out: int, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation)


class ReResBlock(nn.Module):
    """norm, ELU, conv (c_in -> c_out), norm, ELU, conv, plus the input (1x1 conv when widths differ);
    with ``pool`` both paths end with 2x2 mean pooling."""

    def __init__(self, c_in: int, c_out: int, num_classes: int, dilation: int = 1, pool: bool = False) -> None:
        super().__init__()
        self.norm1 = ReNorm(c_in, num_classes)
        self.conv1 = conv3x3(c_in, c_out, dilation)
        self.norm2 = ReNorm(c_out, num_classes)
        self.conv2 = conv3x3(c_out, c_out, dilation)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else None
        self.pool = pool

    def forward(self, x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.elu(self.norm1(x, levels)))
        h = self.conv2(F.elu(self.norm2(h, levels)))
        skip = x if self.skip is None else self.skip(x)
        if self.pool:
            h, skip = F.avg_pool2d(h, 2), F.avg_pool2d(skip, 2)
        return h + skip


class ReCRP(nn.Module):
    """ELU, then 2 x (norm, 5x5 mean pool without the padding, conv with bias), each added to the sum."""

    def __init__(self, features: int, num_classes: int, n_stages: int = 2) -> None:
        super().__init__()
        self.norms = nn.ModuleList(ReNorm(features, num_classes) for _ in range(n_stages))
        self.convs = nn.ModuleList(conv3x3(features, features) for _ in range(n_stages))

    def forward(self, x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
        total = path = F.elu(x)
        for norm, conv in zip(self.norms, self.convs):
            path = conv(box_mean5(norm(path, levels), count_include_pad=False))
            total = total + path
        return total


class ReRefineBlock(nn.Module):
    """Two residual conv units per input (to ``features``), fusion of two inputs, CRP, output units."""

    def __init__(self, in_planes: list[int], features: int, num_classes: int, end_units: int = 1) -> None:
        super().__init__()
        self.adapt = nn.ModuleList(
            nn.ModuleList([ReResBlock(c, features, num_classes), ReResBlock(features, features, num_classes)])
            for c in in_planes
        )
        if len(in_planes) > 1:
            self.fuse_norms = nn.ModuleList(ReNorm(features, num_classes) for _ in in_planes)
            self.fuse_convs = nn.ModuleList(conv3x3(features, features) for _ in in_planes)
        self.crp = ReCRP(features, num_classes)
        self.output = nn.ModuleList(ReResBlock(features, features, num_classes) for _ in range(end_units))

    def forward(self, xs: list[torch.Tensor], levels: torch.Tensor) -> torch.Tensor:
        hs = []
        for units, x in zip(self.adapt, xs):
            for unit in units:
                x = unit(x, levels)
            hs.append(x)
        h = hs[0]
        if len(hs) > 1:
            size = hs[0].shape[2:]
            h = 0
            for x, norm, conv in zip(hs, self.fuse_norms, self.fuse_convs):
                x = conv(norm(x, levels))
                if x.shape[2:] != size:
                    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
                h = h + x
        h = self.crp(h, levels)
        for unit in self.output:
            h = unit(h, levels)
        return h


def keras_init(model: nn.Module) -> None:
    """Keras' ``Conv2D`` defaults on every convolution: Glorot-uniform kernel (torch's ``xavier_uniform_`` takes
    the same fans, channels x kernel taps), zero bias."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)


class ReRefineNet(nn.Module):
    """``s(x, level)`` of the [Re] report's code, (B, C, H, W) inputs in [0, 1]."""

    def __init__(self, channels: int, ngf: int, num_classes: int) -> None:
        super().__init__()
        w = 2 * ngf
        d = RE_DILATIONS
        self.begin_conv = nn.Conv2d(channels, ngf, 3, padding=1)
        self.cascades = nn.ModuleList(
            [
                ReResBlock(ngf, ngf, num_classes, d[0]),
                ReResBlock(ngf, w, num_classes, d[1], pool=True),
                ReResBlock(w, w, num_classes, d[2]),
                ReResBlock(w, w, num_classes, d[3]),
            ]
        )
        self.refines = nn.ModuleList(
            [
                ReRefineBlock([w], w, num_classes),
                ReRefineBlock([w, w], w, num_classes),
                ReRefineBlock([w, w], w, num_classes),
                ReRefineBlock([ngf, w], ngf, num_classes, end_units=3),
            ]
        )
        self.end_norm = ReNorm(ngf, num_classes)
        self.end_conv = nn.Conv2d(ngf, channels, 3, padding=1)
        keras_init(self)

    def forward(self, x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
        h = self.begin_conv(x)
        features = []
        for block in self.cascades:
            h = block(h, levels)
            features.append(h)
        return refine_and_output(self, features, levels)
