"""Score networks: exact parameter counts of the official CondRefineNet, shapes for every
supported input, the fused CondInstanceNorm++ against its textbook form, spec validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import randomise_norms

from ncsn.errors import NcsnError
from ncsn.models import build_model, count_parameters
from ncsn.models.normalization import CondInstanceNormPlus
from ncsn.models.refinenet import SameConv3x3, box_mean5


def spec(arch: str = "refinenet", **kw) -> dict:
    return {"arch": arch, "channels": 1, "image_size": 8, "ngf": 4, "num_classes": 10, **kw}


def reference_cin_plus(x: torch.Tensor, weight: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """CondInstanceNorm++ written out step by step as in the paper/official code (unfused)."""
    gamma, alpha, beta = weight[levels].chunk(3, dim=1)
    means = x.mean(dim=(2, 3))
    normed_means = (means - means.mean(1, keepdim=True)) / torch.sqrt(means.var(1, keepdim=True) + 1e-5)
    h = F.instance_norm(x, eps=1e-5)
    h = h + normed_means[..., None, None] * alpha[..., None, None]
    return gamma[..., None, None] * h + beta[..., None, None]


@pytest.mark.parametrize(
    ("channels", "image_size", "ngf", "expected"),
    [(3, 32, 128, 30_117_635), (1, 28, 64, 7_638_657)],
    ids=["cifar10", "mnist"],
)
def test_refinenet_parameter_count_matches_official(channels, image_size, ngf, expected):
    model = build_model(spec(channels=channels, image_size=image_size, ngf=ngf))
    assert count_parameters(model) == expected


@pytest.mark.parametrize("arch", ["refinenet", "resnet", "ssm_autoencoder"])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("image_size", [8, 28, 32])
def test_image_models_keep_the_input_shape(arch, channels, image_size):
    settings = spec(arch, channels=channels, image_size=image_size)
    if arch == "ssm_autoencoder":  # unconditional: no noise levels
        del settings["num_classes"]
    model = build_model(settings)
    x = torch.rand(3, channels, image_size, image_size)
    out = model(x, torch.tensor([0, 4, 9]))
    assert out.shape == x.shape
    assert torch.isfinite(out).all()


def test_fused_norm_equals_textbook_form():
    torch.manual_seed(0)
    norm = CondInstanceNormPlus(16, 5)
    with torch.no_grad():
        norm.embed.weight.normal_(0.5, 1.0)
    x = 3 * torch.randn(6, 16, 7, 9) + torch.randn(1, 16, 1, 1)
    levels = torch.tensor([0, 1, 2, 3, 4, 2])
    expected = reference_cin_plus(x, norm.embed.weight, levels)
    torch.testing.assert_close(norm(x, levels), expected, atol=1e-5, rtol=1e-5)
    channels_last = norm(x.contiguous(memory_format=torch.channels_last), levels)
    torch.testing.assert_close(channels_last, expected, atol=1e-5, rtol=1e-5)


def test_fused_norm_gradients_equal_textbook_form():
    torch.manual_seed(1)
    norm = CondInstanceNormPlus(8, 3)
    x = torch.randn(4, 8, 5, 5, requires_grad=True)
    levels = torch.tensor([0, 1, 2, 1])
    grad_out = torch.randn(4, 8, 5, 5)
    fused_x, fused_w = torch.autograd.grad((norm(x, levels) * grad_out).sum(), (x, norm.embed.weight))
    ref_x, ref_w = torch.autograd.grad(
        (reference_cin_plus(x, norm.embed.weight, levels) * grad_out).sum(), (x, norm.embed.weight)
    )
    torch.testing.assert_close(fused_x, ref_x, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(fused_w, ref_w, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("shape", [(3, 4, 8, 8), (2, 5, 4, 4), (2, 3, 3, 7), (1, 2, 2, 2), (2, 3, 16, 16)])
def test_box_mean_equals_torch_average_pooling(shape, count_include_pad):
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    grad_out = torch.randn(shape, dtype=torch.float64)
    ours = box_mean5(x, count_include_pad)
    theirs = F.avg_pool2d(x, 5, stride=1, padding=2, count_include_pad=count_include_pad)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    ours_grad = torch.autograd.grad((ours * grad_out).sum(), x)[0]
    theirs_grad = torch.autograd.grad((theirs * grad_out).sum(), x)[0]
    torch.testing.assert_close(ours_grad, theirs_grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("dilation", "size"), [(4, 4), (4, 3), (2, 4), (1, 8)])
def test_same_conv_equals_full_dilated_convolution(dilation, size):
    torch.manual_seed(0)
    conv = SameConv3x3(5, 6, dilation)
    x = torch.randn(2, 5, size, size, requires_grad=True)
    full = F.conv2d(x, conv.weight, conv.bias, padding=dilation, dilation=dilation)
    torch.testing.assert_close(conv(x), full, atol=1e-6, rtol=1e-6)
    grads = torch.autograd.grad(conv(x).sum(), (x, conv.weight))
    full_grads = torch.autograd.grad(full.sum(), (x, conv.weight))
    for got, expected in zip(grads, full_grads):
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-6)


def test_norm_initialisation_is_official():
    torch.manual_seed(0)
    weight = CondInstanceNormPlus(256, 10).embed.weight.detach()
    gamma_alpha, beta = weight[:, :512], weight[:, 512:]
    assert abs(gamma_alpha.mean().item() - 1) < 0.005
    assert abs(gamma_alpha.std().item() - 0.02) < 0.002
    assert torch.all(beta == 0)


def test_refinenet_structure_follows_official_code():
    model = build_model(spec(image_size=32, ngf=8))
    resolutions = []
    hooks = [c[-1].register_forward_hook(lambda m, i, o: resolutions.append(o.shape[-1])) for c in model.cascades]
    begin_inputs = []
    hooks.append(model.begin_conv.register_forward_hook(lambda m, i, o: begin_inputs.append(i[0])))
    x = torch.rand(2, 1, 32, 32)
    model(x, torch.tensor([0, 1]))
    for hook in hooks:
        hook.remove()
    assert resolutions == [32, 16, 16, 16]  # only the second cascade halves the resolution
    torch.testing.assert_close(begin_inputs[0], 2 * x - 1)  # data mapped to [-1, 1] inside the net
    dilations = [block.conv1.dilation[0] for cascade in model.cascades for block in cascade]
    assert dilations == [1, 1, 1, 1, 2, 2, 4, 4]
    assert [len(r.output.convs) // 2 for r in model.refines] == [1, 1, 1, 3]  # RCUs per output stage
    rcu_convs = [c for r in model.refines for rcu in (*r.adapt, r.output) for c in rcu.convs]
    assert all(c.bias is None and c.kernel_size == (3, 3) for c in rcu_convs)
    assert [r.msf is None for r in model.refines] == [True, False, False, False]


@pytest.mark.parametrize("arch", ["refinenet", "resnet"])
def test_conditional_models_are_per_example_and_use_the_level(arch):
    torch.manual_seed(0)
    model = build_model(spec(arch, image_size=8, ngf=6))
    randomise_norms(model)
    x = torch.rand(4, 1, 8, 8)
    levels = torch.tensor([0, 3, 5, 9])
    out = model(x, levels)
    torch.testing.assert_close(model(x[1:2], levels[1:2]), out[1:2], atol=1e-5, rtol=1e-5)  # no batch mixing
    other_level = model(x[1:2], torch.tensor([7]))
    assert (other_level - out[1:2]).abs().max() > 1e-2  # the noise level changes the score


def test_refinenet_backward_reaches_every_parameter():
    model = build_model(spec(image_size=8, ngf=4))
    loss = model(torch.rand(2, 1, 8, 8), torch.tensor([1, 2])).square().sum()
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_channels_last_gives_the_same_scores():
    torch.manual_seed(0)
    model = build_model(spec(channels=3, image_size=8, ngf=8))
    randomise_norms(model)
    x, levels = torch.rand(2, 3, 8, 8), torch.tensor([0, 9])
    expected = model(x, levels)
    model = model.to(memory_format=torch.channels_last)
    got = model(x.contiguous(memory_format=torch.channels_last), levels)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_mlp_matches_official_toy_network():
    model = build_model({"arch": "mlp"})
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(2, 128), (128, 128), (128, 2)]
    x = torch.randn(5, 2)
    assert model(x).shape == (5, 2)
    torch.testing.assert_close(model(x, None), model(x))
    wide = build_model({"arch": "mlp", "dim": 3, "hidden": 16, "layers": 4})
    assert wide(torch.randn(2, 3)).shape == (2, 3)
    assert count_parameters(wide) == 3 * 16 + 16 + 2 * (16 * 16 + 16) + 16 * 3 + 3


def test_ssm_autoencoder_batch_norm_variant_follows_re_report():
    model = build_model({"arch": "ssm_autoencoder", "channels": 3, "image_size": 32, "norm": "batch"})
    assert [b.conv1.out_channels for b in model.encoder] == [32, 64, 64, 128, 128]
    assert [b.conv2.out_channels for b in model.decoder] == [128, 64, 64, 32, 32]
    assert [b.resample for b in model.encoder] == [None, "down", None, "down", None]
    assert isinstance(model.encoder[0].norm1, torch.nn.BatchNorm2d)


def official_resscore_parameters(channels: int, n: int) -> int:
    """Parameters of the official ResScore (nef = ndf = n) counted from its layout: 3x3 (transposed)
    convs with bias, GroupNorm affine per channel; blocks that resample add a 3x3 shortcut conv."""
    conv = lambda i, o: 9 * i * o + o  # noqa: E731
    block = lambda i, o, resample: conv(i, o) + conv(o, o) + 2 * 2 * o + (conv(i, o) if resample else 0)  # noqa: E731
    widths = [(n, n, False), (n, 2 * n, True), (2 * n, 2 * n, False), (2 * n, 4 * n, True), (4 * n, 4 * n, False)]
    decoder = [(4 * n, 4 * n, False), (4 * n, 2 * n, True), (2 * n, 2 * n, False), (2 * n, n, True), (n, n, False)]
    return conv(channels, n) + sum(block(*w) for w in widths + decoder) + conv(n, channels)


def test_ssm_autoencoder_default_is_the_official_group_norm_network():
    # paper App. B.1 / official ResScore: widths 32, 64, 64, 128, 128, GroupNorm(8), 2x down-sampling
    model = build_model({"arch": "ssm_autoencoder", "channels": 3, "image_size": 32})
    assert count_parameters(model) == official_resscore_parameters(3, 32) == 1_379_651
    norms = [m for m in model.modules() if isinstance(m, torch.nn.GroupNorm)]
    assert len(norms) == 20 and {m.num_groups for m in norms} == {8}
    assert [b.conv1.out_channels for b in model.encoder] == [32, 64, 64, 128, 128]
    assert [b.conv1.stride for b in model.encoder] == [(1, 1), (2, 2), (1, 1), (2, 2), (1, 1)]
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert model(x).shape == x.shape
    # the digits default (ngf 4): 8 does not divide 4 channels, those norms get gcd(8, 4) = 4 groups
    narrow = build_model({"arch": "ssm_autoencoder", "channels": 1, "image_size": 8, "ngf": 4})
    groups = {m.num_channels: m.num_groups for m in narrow.modules() if isinstance(m, torch.nn.GroupNorm)}
    assert groups == {4: 4, 8: 8, 16: 8}
    assert count_parameters(narrow) == official_resscore_parameters(1, 4)
    with pytest.raises(NcsnError, match="model.norm"):
        build_model({"arch": "ssm_autoencoder", "channels": 1, "image_size": 8, "norm": "layer"})


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ({"arch": "unet"}, "refinenet, refinenet_re, resnet, mlp, ssm_autoencoder"),
        ({"arch": "refinenet", "channels": 1, "image_size": 8, "ngf": 4}, "num_classes"),
        (spec(ngf=0), "model.ngf"),
        (spec(ngf=2.5), "model.ngf"),
        (spec(channels=True), "model.channels"),
        (spec(image_size=9), "model.image_size"),
        (spec(nfg=64), "nfg"),
        ({"arch": "mlp", "layers": 1}, "model.layers"),
        ([1, 2], "mapping"),
    ],
)
def test_bad_specs_name_the_key(bad, needle):
    with pytest.raises(NcsnError, match=needle.replace(".", r"\.").replace("[", r"\[")):
        build_model(bad)


def re_refinenet_parameters(channels: int, ngf: int, levels: int) -> int:
    """The [Re] report's RefineNet counted by hand from its layer shapes ([Re] Sec. 3.2, Xemnas0/NCSN-TF2.0)."""

    def conv(c_in, c_out, k):  # every convolution has a bias
        return c_in * c_out * k * k + c_out

    def norm(c):  # CondInstanceNorm++: gamma, alpha, beta per level and channel
        return 3 * levels * c

    def block(c_in, c_out):  # norm, conv, norm, conv; a 1x1 skip only where the width changes
        return (
            norm(c_in)
            + conv(c_in, c_out, 3)
            + norm(c_out)
            + conv(c_out, c_out, 3)
            + (c_in != c_out) * conv(c_in, c_out, 1)
        )

    def refine(inputs, width, end_units):
        units = sum(block(c, width) + block(width, width) for c in inputs)  # 2 residual conv units per input
        fusion = len(inputs) * (norm(width) + conv(width, width, 3)) if len(inputs) > 1 else 0
        pooling = 2 * (norm(width) + conv(width, width, 3))
        return units + fusion + pooling + end_units * block(width, width)

    w = 2 * ngf
    cascades = block(ngf, ngf) + block(ngf, w) + 2 * block(w, w)  # one block per cascade
    refines = refine([w], w, 1) + 2 * refine([w, w], w, 1) + refine([ngf, w], ngf, 3)
    return conv(channels, ngf, 3) + cascades + refines + norm(ngf) + conv(ngf, channels, 3)


@pytest.mark.parametrize(("channels", "ngf", "size"), [(3, 128, 32), (1, 64, 28), (1, 8, 8)])
def test_re_refinenet_parameter_count_matches_a_count_by_hand(channels, ngf, size):
    spec = {"arch": "refinenet_re", "channels": channels, "image_size": size, "ngf": ngf, "num_classes": 10}
    model = build_model(spec)
    assert count_parameters(model) == re_refinenet_parameters(channels, ngf, 10)
    if ngf == 128:  # CIFAR-10 / CelebA width: 2.05M fewer than the official 30,117,635
        assert count_parameters(model) == 28_063_747
    if ngf == 8:
        norms = [m for m in model.modules() if hasattr(m, "embed")]
        assert all((n.embed.weight[:, : 2 * n.num_features] == 1).all() for n in norms), "[Re]: alpha, gamma = 1"
        out = model(torch.rand(3, channels, size, size), torch.tensor([0, 4, 9]))
        assert out.shape == (3, channels, size, size) and torch.isfinite(out).all()


def cin_plus_by_hand(x, gamma, alpha, beta, eps, correction, form):
    """One CondInstanceNorm++ layer written out in numpy: instance mean and biased variance per channel, mean and
    variance (``correction``) of the channel means; NCSN App. A.1's form or the official code's."""
    x = x.astype(np.float64)
    mu = x.mean(axis=(2, 3))
    var = x.var(axis=(2, 3))
    m = mu.mean(axis=1, keepdims=True)
    v = mu.var(axis=1, ddof=correction, keepdims=True)
    h = (x - mu[:, :, None, None]) / np.sqrt(var + eps)[:, :, None, None]
    mu_hat = ((mu - m) / np.sqrt(v + eps))[:, :, None, None]
    g, a, b = (t[:, :, None, None] for t in (gamma, alpha, beta))
    return g * h + b + a * mu_hat if form == "paper" else g * (h + a * mu_hat) + b


def test_re_cin_plus_is_the_papers_form_computed_by_hand():
    from ncsn.models.refinenet_re import ReNorm

    torch.manual_seed(0)
    norm = ReNorm(3, 4)
    rng = np.random.default_rng(0)
    gamma, alpha, beta = rng.normal(1, 0.5, (4, 3)), rng.normal(1, 0.5, (4, 3)), rng.normal(0, 0.5, (4, 3))
    with torch.no_grad():
        norm.embed.weight.copy_(torch.from_numpy(np.concatenate([gamma, alpha, beta], axis=1)))
    x = rng.normal(0.3, 2.0, (2, 3, 5, 5)).astype(np.float32)
    levels = np.array([1, 3])
    out = norm(torch.from_numpy(x), torch.from_numpy(levels)).detach().numpy()
    expected = cin_plus_by_hand(x, gamma[levels], alpha[levels], beta[levels], 1e-6, 0, "paper")
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    official = cin_plus_by_hand(x, gamma[levels], alpha[levels], beta[levels], 1e-6, 0, "official")
    assert np.abs(out - official).max() > 0.1, "gamma != 1: the two forms differ"
    # and the official network keeps the official form
    std = CondInstanceNormPlus(3, 4, correction=1)
    with torch.no_grad():
        std.embed.weight.copy_(norm.embed.weight)
    expected = cin_plus_by_hand(x, gamma[levels], alpha[levels], beta[levels], 1e-5, 1, "official")
    np.testing.assert_allclose(std(torch.from_numpy(x), torch.from_numpy(levels)).detach(), expected, atol=1e-4)


def test_re_refinenet_convolutions_start_as_keras_glorot_uniform():
    model = build_model({"arch": "refinenet_re", "channels": 1, "image_size": 8, "ngf": 8, "num_classes": 10})
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    for conv in convs:
        c_out, c_in, kh, kw = conv.weight.shape
        limit = np.sqrt(6.0 / ((c_in + c_out) * kh * kw))  # Keras: fans = channels x receptive field
        assert conv.weight.abs().max() <= limit and conv.weight.abs().max() > 0.9 * limit
        assert (conv.bias == 0).all()
    wide = max(convs, key=lambda c: c.weight.numel())  # uniform on [-limit, limit]: variance limit^2 / 3
    c_out, c_in, kh, kw = wide.weight.shape
    assert wide.weight.var().item() == pytest.approx(2.0 / ((c_in + c_out) * kh * kw), rel=0.1)
