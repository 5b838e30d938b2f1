"""FID∞ (ncsn.metrics.fid_infinity) against independent computations: scipy's sqrtm FID of each subset, an exact line."""

import numpy as np
import pytest
import scipy.linalg

from ncsn.metrics import fid_infinity
from ncsn.metrics.bootstrap import FidAgainst

SETTINGS = {"fid_infinity_points": 5, "fid_infinity_halves": 4, "seed": 3, "confidence": 0.95}


def fid_by_sqrtm(f, ref):
    mu, sigma = f.mean(axis=0), np.cov(f, rowvar=False)
    return float(
        ((mu - ref[0]) ** 2).sum()
        + np.trace(sigma)
        + np.trace(ref[1])
        - 2 * np.trace(scipy.linalg.sqrtm(sigma @ ref[1]).real)
    )


def sets(n=200, d=6, seed=0):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(500, d))
    return rng.normal(size=(n, d)) @ rng.normal(scale=0.6, size=(d, d)) + 0.3, (
        real.mean(0),
        np.cov(real, rowvar=False),
    )


def test_subset_sizes_run_from_half_to_all():
    assert fid_infinity.subset_sizes(200, 5).tolist() == [100, 125, 150, 175, 200]


def test_fid_curve_is_the_fid_of_each_nested_prefix():
    gen, ref = sets()
    order = np.random.default_rng(0).permutation(len(gen))
    sizes = fid_infinity.subset_sizes(len(gen), 5)
    curve = fid_infinity.fid_curve(gen, FidAgainst(ref), order, sizes)
    np.testing.assert_allclose(curve, [fid_by_sqrtm(gen[order[:n]], ref) for n in sizes], rtol=1e-7)


def test_extrapolation_recovers_an_exact_line_in_one_over_n():
    sizes = np.array([100, 150, 200])
    assert fid_infinity.extrapolate(sizes, 12.5 + 300.0 / sizes) == pytest.approx((12.5, 300.0))


def test_fid_infinity_record_is_seeded_and_consistent():
    gen, ref = sets()
    fid_n = fid_by_sqrtm(gen, ref)
    out = fid_infinity.fid_infinity(gen, ref, SETTINGS, fid_n)
    assert out == fid_infinity.fid_infinity(gen, ref, SETTINGS, fid_n)  # deterministic
    intercept, slope = np.polyfit(1 / np.array(out["sizes"]), out["fids"], 1)[::-1]
    assert (out["value"], out["slope"]) == pytest.approx((intercept, slope), rel=1e-5)
    assert out["bias_at_n"] == pytest.approx(fid_n - out["value"])
    assert out["interval"] == pytest.approx([out["value"] - 1.959964 * out["se"], out["value"] + 1.959964 * out["se"]])
    assert out["covers"].startswith("the model's FID") and "Chong & Forsyth 2020" in out["method"]
