"""Plain ResNet encoder-decoder score networks (no U-Net skips between encoder and decoder).

One implementation serves two models: the unconditional auto-encoder of the SSM toy (paper
Fig. 1, see ``autoencoder.py``) and the conditional ResNet of the [Re] report, Sec. 6.3, which
adds CondInstanceNorm++ and dilated convolutions to the same network with 4x the filters.

Layout ([Re] Sec. 3.2): 3x3 input conv; encoder of five pre-activation residual blocks with
widths ngf x (1, 2, 2, 4, 4), halving the resolution with a stride-2 conv at the end of the
2nd and 4th blocks; the mirrored decoder doubling it with stride-2 transposed convs at the end
of its 2nd and 4th blocks; ELU and a 3x3 output conv. Shortcuts: identity, a 1x1 conv when only
the width changes, a stride-2 3x3 (transposed) conv when the resolution changes.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ncsn.models.normalization import CondInstanceNormPlus

WIDTHS = (1, 2, 2, 4, 4)  # encoder widths in units of ngf; the decoder mirrors them
RESAMPLE_AT = (1, 3)  # 0-based blocks ending with a resolution change (2nd and 4th)
COND_DILATIONS = (1, 1, 2, 2, 4)  # encoder dilations of the conditional ResNet; decoder mirrors

NormFactory = Callable[[int], nn.Module]  # features -> module called as norm(x, levels)


class ResBlock(nn.Module):
    """Pre-activation residual block; ``resample`` is None, "down" or "up" (its second conv)."""

    def __init__(
        self, c_in: int, c_out: int, norm: NormFactory, dilation: int = 1, resample: str | None = None
    ) -> None:
        super().__init__()
        self.norm1, self.norm2 = norm(c_in), norm(c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation)
        kind = {None: nn.Conv2d, "down": nn.Conv2d, "up": nn.ConvTranspose2d}[resample]
        stride = 1 if resample is None else 2
        self.conv2 = kind(c_out, c_out, 3, stride=stride, padding=dilation, dilation=dilation)
        self.resample = resample
        if resample is not None:
            self.shortcut: nn.Module | None = kind(c_in, c_out, 3, stride=2, padding=1)
        else:
            self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else None

    def _resize(self, conv: nn.Module, x: torch.Tensor, size: torch.Size | None) -> torch.Tensor:
        return conv(x, output_size=size) if self.resample == "up" else conv(x)

    def forward(self, x: torch.Tensor, levels: torch.Tensor | None, size: torch.Size | None = None) -> torch.Tensor:
        """``size`` is the output (H, W) of an "up" block (undoes an odd-size down-sampling)."""
        h = self.conv1(F.elu(self.norm1(x, levels)))
        h = self._resize(self.conv2, F.elu(self.norm2(h, levels)), size)
        skip = x if self.shortcut is None else self._resize(self.shortcut, x, size)
        return h + skip


class ResNetScore(nn.Module):
    """ResNet encoder-decoder score network ``s(x, levels)`` for (B, C, H, W) inputs in [0, 1]."""

    def __init__(self, channels: int, ngf: int, norm: NormFactory, dilations: tuple[int, ...] = (1,) * 5) -> None:
        super().__init__()
        widths = [ngf * k for k in WIDTHS]
        self.begin_conv = nn.Conv2d(channels, ngf, 3, padding=1)
        self.encoder = nn.ModuleList(
            ResBlock(c_in, c_out, norm, d, "down" if i in RESAMPLE_AT else None)
            for i, (c_in, c_out, d) in enumerate(zip([ngf] + widths[:-1], widths, dilations))
        )
        rev, rev_d = widths[::-1], dilations[::-1]
        self.decoder = nn.ModuleList(
            ResBlock(c_in, c_out, norm, d, "up" if i in RESAMPLE_AT else None)
            for i, (c_in, c_out, d) in enumerate(zip(rev, rev[1:] + [ngf], rev_d))
        )
        self.end_conv = nn.Conv2d(ngf, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, levels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.begin_conv(2 * x - 1)
        sizes = []
        for block in self.encoder:
            if block.resample:
                sizes.append(h.shape[2:])
            h = block(h, levels)
        for block in self.decoder:
            h = block(h, levels, sizes.pop() if block.resample else None)
        return self.end_conv(F.elu(h))


def cond_resnet(channels: int, ngf: int, num_classes: int) -> ResNetScore:
    """The [Re] Sec. 6.3 conditional ResNet: CondInstanceNorm++ and dilations (1, 1, 2, 2, 4)."""
    return ResNetScore(channels, ngf, lambda c: CondInstanceNormPlus(c, num_classes), COND_DILATIONS)
