"""Reference NCSN v1 score network written in the official code's own, unfused style.

This is an independent re-implementation of ``CondRefineNetDilated`` from ermongroup/ncsn
(``models/cond_refinenet_dilated.py``), kept module for module as the official code structures
it: ``ConditionalInstanceNorm2dPlus`` as ``nn.InstanceNorm2d(affine=False,
track_running_stats=False)`` plus a cross-channel term (means of the per-channel means and their
*unbiased* ``torch.var``) and an ``nn.Embedding`` row ``[gamma | alpha | beta]`` per noise level;
``ConvMeanPool`` (conv, then the mean of the four 2x2-strided sub-grids) for the one
down-sampling block; ``ConditionalResidualBlock`` with ``resample='down'`` and dilations;
``CondRCUBlock`` / ``CondMSFBlock`` / ``CondCRPBlock`` / ``CondRefineBlock``; the ``2x - 1``
input mapping; end norm, ELU and conv. Attribute names follow the official module (``res1``,
``refine4.adapt_convs.0.1_2_conv``, ...), so its ``state_dict`` keys are the official ones.

It exists only as the reference for the parity test (``tests/test_official_parity.py``: our
:class:`ncsn.models.refinenet.CondRefineNet` must give the same outputs with the same weights)
and for the side-by-side timing in ``benchmarks/bench_core.py``. The pipeline never uses it.
:func:`load_from_ours` copies the weights of a ``CondRefineNet`` into it by the name mapping of
:func:`ncsn.official.official_names` (the one users' ``import-official`` inverts); :func:`from_ours` builds one of the same shape and loads them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ncsn.official import official_names


def plain_conv3x3(c_in: int, c_out: int, bias: bool = False) -> nn.Conv2d:
    """3x3, stride 1, padding 1 (the official ``conv3x3``: no bias unless asked)."""
    return nn.Conv2d(c_in, c_out, 3, stride=1, padding=1, bias=bias)


def dilated_3x3(c_in: int, c_out: int, dilation: int, bias: bool = True) -> nn.Conv2d:
    """3x3 with padding = dilation (the official ``dilated_conv3x3``: biased by default)."""
    return nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation, bias=bias)


def mean_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """Mean of the four strided sub-grids, as the official ConvMeanPool/MeanPoolConv compute it."""
    corners = (x[:, :, 0::2, 0::2], x[:, :, 1::2, 0::2], x[:, :, 0::2, 1::2], x[:, :, 1::2, 1::2])
    return sum(corners) / 4.0


class ConditionalInstanceNorm2dPlus(nn.Module):
    """Instance norm, plus alpha times the standardised per-channel means, then gamma, beta."""

    def __init__(self, num_features: int, num_classes: int, bias: bool = True) -> None:
        super().__init__()
        if not bias:
            raise ValueError("CondRefineNetDilated only uses the biased (gamma, alpha, beta) form")
        self.num_features = num_features
        self.instance_norm = nn.InstanceNorm2d(num_features, affine=False, track_running_stats=False)
        self.embed = nn.Embedding(num_classes, 3 * num_features)
        with torch.no_grad():
            self.embed.weight[:, : 2 * num_features].normal_(1.0, 0.02)
            self.embed.weight[:, 2 * num_features :].zero_()

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        channel_means = x.mean(dim=(2, 3))  # (B, C)
        centre = channel_means.mean(dim=-1, keepdim=True)
        spread = torch.var(channel_means, dim=-1, keepdim=True)  # unbiased, as the official code
        standardised = (channel_means - centre) / torch.sqrt(spread + 1e-5)
        normed = self.instance_norm(x)
        gamma, alpha, beta = self.embed(y).chunk(3, dim=-1)
        normed = normed + standardised[:, :, None, None] * alpha[:, :, None, None]
        return gamma.view(-1, self.num_features, 1, 1) * normed + beta.view(-1, self.num_features, 1, 1)


class ConvMeanPool(nn.Module):
    """Convolution (padding k // 2, biased) followed by 2x2 mean pooling."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride=1, padding=kernel_size // 2, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return mean_pool_2x2(self.conv(x))


class ConditionalResidualBlock(nn.Module):
    """Pre-activation block: norm1, ELU, conv1, norm2, ELU, conv2, plus a shortcut.

    ``resample='down'`` keeps the input width through conv1; without dilation conv2 and the
    (1x1) shortcut are ConvMeanPool (the only down-sampling); with dilation there is no pooling
    and the shortcut is a dilated 3x3 conv. ``resample=None`` uses a shortcut conv only when the
    width changes. (The official ``adjust_padding`` flag, set for 28x28 inputs on ``res4``, only
    affects the ConvMeanPool branch, which ``res4``'s dilation skips; it is therefore omitted.)
    """

    def __init__(
        self, c_in: int, c_out: int, num_classes: int, resample: str | None = None, dilation: int | None = None
    ) -> None:
        super().__init__()
        self.input_dim, self.output_dim, self.resample = c_in, c_out, resample
        self.non_linearity = nn.ELU()
        self.normalize1 = ConditionalInstanceNorm2dPlus(c_in, num_classes)
        if resample == "down":
            self.normalize2 = ConditionalInstanceNorm2dPlus(c_in, num_classes)
            if dilation is None:
                self.conv1 = nn.Conv2d(c_in, c_in, 3, stride=1, padding=1)
                self.conv2 = ConvMeanPool(c_in, c_out, 3)
                self.shortcut = ConvMeanPool(c_in, c_out, 1)
            else:
                self.conv1 = dilated_3x3(c_in, c_in, dilation)
                self.conv2 = dilated_3x3(c_in, c_out, dilation)
                self.shortcut = dilated_3x3(c_in, c_out, dilation)
        elif resample is None:
            self.normalize2 = ConditionalInstanceNorm2dPlus(c_out, num_classes)
            if dilation is None:
                self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=1, padding=1)
                self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1)
                if c_in != c_out:
                    self.shortcut = nn.Conv2d(c_in, c_out, 1)
            else:
                self.conv1 = dilated_3x3(c_in, c_out, dilation)
                self.conv2 = dilated_3x3(c_out, c_out, dilation)
                if c_in != c_out:
                    self.shortcut = dilated_3x3(c_in, c_out, dilation)
        else:
            raise ValueError(f"resample must be 'down' or None, got {resample!r}")

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.non_linearity(self.normalize1(x, y)))
        h = self.conv2(self.non_linearity(self.normalize2(h, y)))
        identity = self.input_dim == self.output_dim and self.resample is None
        return (x if identity else self.shortcut(x)) + h


class CondRCUBlock(nn.Module):
    """``n_blocks`` residual conv units of ``n_stages`` x (norm, ELU, bias-free 3x3 conv)."""

    def __init__(self, features: int, n_blocks: int, n_stages: int, num_classes: int) -> None:
        super().__init__()
        self.n_blocks, self.n_stages = n_blocks, n_stages
        self.act = nn.ELU()
        for b in range(1, n_blocks + 1):
            for s in range(1, n_stages + 1):
                self.add_module(f"{b}_{s}_norm", ConditionalInstanceNorm2dPlus(features, num_classes))
                self.add_module(f"{b}_{s}_conv", plain_conv3x3(features, features, bias=False))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        for b in range(1, self.n_blocks + 1):
            unit_input = x
            for s in range(1, self.n_stages + 1):
                x = getattr(self, f"{b}_{s}_norm")(x, y)
                x = self.act(x)
                x = getattr(self, f"{b}_{s}_conv")(x)
            x += unit_input  # x is a fresh conv output here, as in the official in-place add
        return x


class CondMSFBlock(nn.Module):
    """Multi-resolution fusion: per input norm -> biased 3x3 conv -> bilinear resize
    (align_corners=True, applied even at the same size) -> added into a zero tensor."""

    def __init__(self, in_planes: list[int], features: int, num_classes: int) -> None:
        super().__init__()
        self.features = features
        self.convs = nn.ModuleList(plain_conv3x3(c, features, bias=True) for c in in_planes)
        self.norms = nn.ModuleList(ConditionalInstanceNorm2dPlus(c, num_classes) for c in in_planes)

    def forward(self, xs: list[torch.Tensor], y: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        total = torch.zeros(xs[0].shape[0], self.features, *shape, device=xs[0].device)
        for x, norm, conv in zip(xs, self.norms, self.convs):
            total += F.interpolate(conv(norm(x, y)), size=shape, mode="bilinear", align_corners=True)
        return total


class CondCRPBlock(nn.Module):
    """Chained residual pooling: ELU, then ``n_stages`` x (norm, 5x5 average pool stride 1
    padding 2, bias-free 3x3 conv), each stage added to the running output."""

    def __init__(self, features: int, n_stages: int, num_classes: int) -> None:
        super().__init__()
        self.n_stages = n_stages
        self.act = nn.ELU()
        self.norms = nn.ModuleList(ConditionalInstanceNorm2dPlus(features, num_classes) for _ in range(n_stages))
        self.convs = nn.ModuleList(plain_conv3x3(features, features, bias=False) for _ in range(n_stages))
        self.maxpool = nn.AvgPool2d(kernel_size=5, stride=1, padding=2)  # the official name; it averages

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = self.act(x)
        path = x
        for norm, conv in zip(self.norms, self.convs):
            path = conv(self.maxpool(norm(path, y)))
            x = path + x
        return x


class CondRefineBlock(nn.Module):
    """Adaptive RCUs (2 units per input), fusion unless ``start``, CRP, output RCUs (3 if ``end``)."""

    def __init__(
        self, in_planes: list[int], features: int, num_classes: int, start: bool = False, end: bool = False
    ) -> None:
        super().__init__()
        self.n_blocks = len(in_planes)
        self.adapt_convs = nn.ModuleList(CondRCUBlock(c, 2, 2, num_classes) for c in in_planes)
        self.output_convs = CondRCUBlock(features, 3 if end else 1, 2, num_classes)
        if not start:
            self.msf = CondMSFBlock(in_planes, features, num_classes)
        self.crp = CondCRPBlock(features, 2, num_classes)

    def forward(self, xs: list[torch.Tensor], y: torch.Tensor, output_shape: torch.Size) -> torch.Tensor:
        hs = [adapt(x, y) for adapt, x in zip(self.adapt_convs, xs)]
        h = self.msf(hs, y, output_shape) if self.n_blocks > 1 else hs[0]
        return self.output_convs(self.crp(h, y), y)


class OfficialCondRefineNetDilated(nn.Module):
    """``CondRefineNetDilated`` for (B, C, H, W) inputs in [0, 1] (no logit transform)."""

    def __init__(self, channels: int, ngf: int, num_classes: int) -> None:
        super().__init__()
        self.ngf, self.num_classes = ngf, num_classes
        w = 2 * ngf
        self.act = nn.ELU()
        self.begin_conv = nn.Conv2d(channels, ngf, 3, stride=1, padding=1)
        self.normalizer = ConditionalInstanceNorm2dPlus(ngf, num_classes)
        self.end_conv = nn.Conv2d(ngf, channels, 3, stride=1, padding=1)
        block = ConditionalResidualBlock
        self.res1 = nn.ModuleList([block(ngf, ngf, num_classes), block(ngf, ngf, num_classes)])
        self.res2 = nn.ModuleList([block(ngf, w, num_classes, "down"), block(w, w, num_classes)])
        self.res3 = nn.ModuleList([block(w, w, num_classes, "down", 2), block(w, w, num_classes, None, 2)])
        self.res4 = nn.ModuleList([block(w, w, num_classes, "down", 4), block(w, w, num_classes, None, 4)])
        self.refine1 = CondRefineBlock([w], w, num_classes, start=True)
        self.refine2 = CondRefineBlock([w, w], w, num_classes)
        self.refine3 = CondRefineBlock([w, w], ngf, num_classes)
        self.refine4 = CondRefineBlock([ngf, ngf], ngf, num_classes, end=True)

    @staticmethod
    def _cascade(blocks: nn.ModuleList, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        for blk in blocks:
            x = blk(x, y)
        return x

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.begin_conv(2 * x - 1.0)
        layer1 = self._cascade(self.res1, h, y)
        layer2 = self._cascade(self.res2, layer1, y)
        layer3 = self._cascade(self.res3, layer2, y)
        layer4 = self._cascade(self.res4, layer3, y)
        ref1 = self.refine1([layer4], y, layer4.shape[2:])
        ref2 = self.refine2([layer3, ref1], y, layer3.shape[2:])
        ref3 = self.refine3([layer2, ref2], y, layer2.shape[2:])
        out = self.refine4([layer1, ref3], y, layer1.shape[2:])
        return self.end_conv(self.act(self.normalizer(out, y)))


# --- weights: our CondRefineNet -> the official layout ------------------------------------------


def load_from_ours(official_model: OfficialCondRefineNetDilated, our_model: nn.Module) -> dict[str, str]:
    """Copy every parameter of ``our_model`` (a CondRefineNet) into ``official_model``.

    The mapping must be a bijection between the two parameter sets with equal shapes (checked);
    returns it (ours -> official) for inspection.
    """
    ours = dict(our_model.named_parameters())
    theirs = dict(official_model.named_parameters())
    mapping = official_names(our_model)
    missing = set(theirs) - set(mapping.values())
    unknown = set(mapping.values()) - set(theirs)
    if missing or unknown or len(set(mapping.values())) != len(mapping):
        raise ValueError(
            f"parameter mapping is not a bijection: unmapped official {sorted(missing)}, unknown {sorted(unknown)}"
        )
    with torch.no_grad():
        for name, target in mapping.items():
            if theirs[target].shape != ours[name].shape:
                raise ValueError(f"{name} {tuple(ours[name].shape)} -> {target} {tuple(theirs[target].shape)}")
            theirs[target].copy_(ours[name])
    return mapping


def from_ours(our_model: nn.Module) -> OfficialCondRefineNetDilated:
    """An official-style network of the same shape as ``our_model``, holding its weights."""
    channels = our_model.begin_conv.in_channels
    ngf = our_model.begin_conv.out_channels
    num_classes = our_model.end_norm.embed.num_embeddings
    official = OfficialCondRefineNetDilated(channels, ngf, num_classes)
    load_from_ours(official, our_model)
    return official
