"""Noise schedules against their closed forms, and their error messages."""

import math

import pytest
import torch

from ncsn.errors import NcsnError
from ncsn.schedules import make_sigmas
from ncsn.settings import check_block, defaults


def test_default_is_the_papers_geometric_schedule():
    sigmas = make_sigmas(defaults("schedule"))
    assert sigmas.dtype == torch.float32
    expected = [10 ** (-2 * i / 9) for i in range(10)]  # 1 -> 0.01, L = 10
    assert sigmas.tolist() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "begin,end,levels", [(1.0, 0.01, 10), (20.0, math.exp(0.1), 10), (50.0, 0.5, 7), (3.0, 1.0, 2)]
)
def test_geometric_matches_closed_form(begin, end, levels):
    sigmas = make_sigmas({"kind": "geometric", "sigma_begin": begin, "sigma_end": end, "num_levels": levels})
    closed = [begin * (end / begin) ** (i / (levels - 1)) for i in range(levels)]
    assert sigmas.shape == (levels,)
    assert sigmas.tolist() == pytest.approx(closed, rel=1e-6)
    ratios = sigmas[:-1] / sigmas[1:]
    assert torch.allclose(ratios, ratios[0].expand_as(ratios), rtol=1e-5)
    assert bool((ratios > 1).all())


@pytest.mark.parametrize("begin,end,levels", [(1.0, 0.01, 10), (1.0, 0.01, 233), (5.0, 2.0, 4)])
def test_linear_matches_closed_form(begin, end, levels):
    sigmas = make_sigmas({"kind": "linear", "sigma_begin": begin, "sigma_end": end, "num_levels": levels})
    closed = [begin + (end - begin) * i / (levels - 1) for i in range(levels)]
    assert sigmas.dtype == torch.float32
    assert sigmas.tolist() == pytest.approx(closed, rel=1e-6)
    assert bool((sigmas[:-1] > sigmas[1:]).all())


def test_single_is_one_level_at_sigma_end():
    assert make_sigmas(check_block("schedule", {"kind": "single"})).tolist() == pytest.approx([0.01])
    assert make_sigmas(
        check_block("schedule", {"kind": "single", "sigma_end": 0.05, "num_levels": 1})
    ).tolist() == pytest.approx([0.05])


@pytest.mark.parametrize(
    "spec,key",
    [
        ({"kind": "cosine"}, "schedule.kind"),
        ({"sigma_begin": 0.001}, "schedule.sigma_begin"),
        ({"sigma_end": -1.0}, "schedule.sigma_end"),
        ({"sigma_end": float("nan")}, "schedule.sigma_end"),
        ({"num_levels": 1}, "schedule.num_levels"),
        ({"num_levels": 2.5}, "schedule.num_levels"),
        ({"kind": "linear", "sigma_begin": "1"}, "schedule.sigma_begin"),
        ({"kind": "single", "num_levels": 10}, "schedule.num_levels"),
        ({"sigma_beign": 1.0}, "sigma_beign"),
    ],
)
def test_bad_specs_name_the_key(spec, key):
    with pytest.raises(NcsnError, match=key.replace(".", r"\.")):
        check_block("schedule", spec)
