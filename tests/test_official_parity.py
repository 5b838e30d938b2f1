"""Our CondRefineNet against an independent, unfused implementation of the official
``CondRefineNetDilated`` (tests/reference/official_refinenet.py) holding the same weights.

Tolerance: outputs and input gradients agree to 1e-5 of their largest magnitude (observed
~1e-6: float32 rounding of the fused CondInstanceNorm++ and of the 1x1 form of dilated
convolutions that read only padding).
"""

from __future__ import annotations

import pytest
import torch
from helpers import randomise_norms
from reference.official_refinenet import OfficialCondRefineNetDilated, from_ours, load_from_ours

from ncsn.models import build_model, count_parameters

REL_TOL = 1e-5


def assert_matches(got: torch.Tensor, expected: torch.Tensor) -> None:
    scale = expected.abs().max().item()
    assert scale > 0.1  # not a vacuous comparison of near-zero tensors
    assert (got - expected).abs().max().item() <= REL_TOL * scale


def pair(channels: int, image_size: int, ngf: int, seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(seed)
    ours = build_model(
        {"arch": "refinenet", "channels": channels, "image_size": image_size, "ngf": ngf, "num_classes": 10}
    )
    randomise_norms(ours, seed)
    return ours, from_ours(ours)


@pytest.mark.parametrize(
    ("channels", "image_size", "ngf"), [(1, 8, 8), (1, 28, 16), (3, 32, 16)], ids=["1x8x8", "1x28x28", "3x32x32"]
)
def test_outputs_and_gradients_equal_official_style_module(channels, image_size, ngf):
    ours, official = pair(channels, image_size, ngf)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(4, channels, image_size, image_size, generator=gen)
    levels = torch.randint(10, (4,), generator=gen)
    grad_out = torch.randn(x.shape, generator=gen)
    x_ours, x_theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_ours, out_theirs = ours(x_ours, levels), official(x_theirs, levels)
    assert_matches(out_ours, out_theirs)
    (out_ours * grad_out).sum().backward()
    (out_theirs * grad_out).sum().backward()
    assert_matches(x_ours.grad, x_theirs.grad)


def test_level_conditioning_is_the_same():
    ours, official = pair(1, 8, 8, seed=3)
    x = torch.rand(1, 1, 8, 8).expand(10, -1, -1, -1)
    levels = torch.arange(10)
    with torch.no_grad():
        assert_matches(ours(x, levels), official(x, levels))


@pytest.mark.parametrize(("channels", "ngf", "expected"), [(3, 128, 30_117_635), (1, 64, 7_638_657)])
def test_official_style_parameter_counts(channels, ngf, expected):
    assert count_parameters(OfficialCondRefineNetDilated(channels, ngf, 10)) == expected


def test_weight_mapping_is_a_bijection_onto_official_names():
    ours = build_model({"arch": "refinenet", "channels": 1, "image_size": 8, "ngf": 4, "num_classes": 10})
    official = OfficialCondRefineNetDilated(1, 4, 10)
    mapping = load_from_ours(official, ours)
    assert sorted(mapping.values()) == sorted(name for name, _ in official.named_parameters())
    assert mapping["cascades.1.0.conv2.weight"] == "res2.0.conv2.conv.weight"  # ConvMeanPool
    assert mapping["cascades.1.0.shortcut.bias"] == "res2.0.shortcut.conv.bias"
    assert mapping["cascades.3.0.shortcut.weight"] == "res4.0.shortcut.weight"  # dilated, no pooling
    assert mapping["refines.3.output.convs.5.weight"] == "refine4.output_convs.3_2_conv.weight"
    assert mapping["refines.2.adapt.1.norms.2.embed.weight"] == "refine3.adapt_convs.1.2_1_norm.embed.weight"
    assert mapping["end_norm.embed.weight"] == "normalizer.embed.weight"
    theirs = dict(official.named_parameters())
    for name, param in ours.named_parameters():
        assert torch.equal(theirs[mapping[name]], param)
