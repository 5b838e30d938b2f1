"""Half-sample intervals (ncsn.metrics.bootstrap) against independent computations of the same half-samples
(their calibration: tests/test_calibration.py)."""

import numpy as np
import pytest
import scipy.linalg
import torch
from torch_fidelity.metric_kid import kernel_poly, mmd2
from torch_fidelity.metric_prc import prc_features_to_metric

from ncsn.metrics import bootstrap
from ncsn.metrics.fidelity import fid_torch_fidelity


def features(n, d, shift, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(scale=0.5, size=(d, d)) + shift


def fid_by_sqrtm(f, ref):
    """FID the textbook way (scipy's sqrtm of the product), independent of the eigen-decomposition route."""
    mu, sigma = f.mean(axis=0), np.cov(f, rowvar=False)
    mu_r, sigma_r = ref
    covmean = scipy.linalg.sqrtm(sigma @ sigma_r).real
    return float(((mu - mu_r) ** 2).sum() + np.trace(sigma) + np.trace(sigma_r) - 2 * np.trace(covmean))


@pytest.mark.parametrize("n", [120, 9])  # more images than dimensions, and fewer (the Gram route)
def test_fid_replicates_equal_the_textbook_fid_of_each_resample(n):
    gen, real = features(n, 12, 0.3, 0), features(400, 12, 0.0, 1)
    ref = (real.mean(axis=0), np.cov(real, rowvar=False))
    replicates = bootstrap.fid_replicates(gen, ref, resamples=20, seed=7)
    expected = [fid_by_sqrtm(gen[idx], ref) for idx in bootstrap.resample_indices(len(gen), 20, 7)]
    np.testing.assert_allclose(replicates, expected, rtol=1e-6)
    assert bootstrap.fid_value(gen, ref) == pytest.approx(fid_by_sqrtm(gen, ref), rel=1e-7)
    # and the eigen-decomposition route equals torch-fidelity's FID on the whole set
    gen = features(120, 12, 0.3, 0)
    whole = (gen.mean(axis=0), np.cov(gen, rowvar=False))
    assert bootstrap.FidAgainst(ref)(*whole) == pytest.approx(fid_torch_fidelity(whole, ref), rel=1e-9)


def test_fid_replicates_in_one_dimension_equal_the_closed_form():
    # In 1-D, FID = (mu - mu_r)^2 + (s - s_r)^2 (closed form) on each half-sample of distinct images.
    gen, real = features(300, 1, 0.5, 2), features(1000, 1, 0.0, 3)
    mu_r, var_r = real.mean(), real.var(ddof=1)

    def closed_form(x):
        return (x.mean() - mu_r) ** 2 + (np.sqrt(x.var(ddof=1)) - np.sqrt(var_r)) ** 2

    ours = bootstrap.fid_replicates(gen, (np.array([mu_r]), np.array([[var_r]])), resamples=5, seed=0)
    halves = list(bootstrap.resample_indices(300, 5, 0))
    assert all(len(idx) == 150 == len(np.unique(idx)) for idx in halves)
    np.testing.assert_allclose(ours, [closed_form(gen[idx, 0]) for idx in halves])


def test_kid_replicates_equal_the_unbiased_mmd_of_each_half_sample():
    gen, real = features(60, 5, 0.2, 4), features(60, 5, 0.0, 5)
    replicates = bootstrap.kid_replicates(gen, real, resamples=10, seed=3)

    def off_diagonal_mean(k):
        return (k.sum() - np.trace(k)) / (len(k) * (len(k) - 1))

    k_yy = off_diagonal_mean(kernel_poly(real, real))
    expected = [  # the unbiased MMD^2 of 30 drawn images against all 60 reference ones, written out
        off_diagonal_mean(kernel_poly(gen[idx], gen[idx])) + k_yy - 2 * kernel_poly(gen[idx], real).mean()
        for idx in bootstrap.resample_indices(len(gen), 10, 3)
    ]
    np.testing.assert_allclose(replicates, expected, rtol=1e-9)


def test_precision_recall_replicates():
    gen, real = features(50, 4, 0.4, 6), features(80, 4, 0.0, 7).astype(np.float32)
    gen = gen.astype(np.float32)
    precision, recall = bootstrap.precision_recall_replicates(gen, real, resamples=8, seed=2)
    inside, covers = bootstrap.precision_recall_parts(gen, real)
    whole = prc_features_to_metric(torch.from_numpy(gen), torch.from_numpy(real), prc_neighborhood=3, verbose=False)
    assert inside.mean() == pytest.approx(whole["precision"])
    assert covers.any(axis=0).mean() == pytest.approx(whole["recall"])
    for b, idx in enumerate(bootstrap.resample_indices(len(gen), 8, 2)):
        # precision: torch-fidelity on the resampled set (the real manifold is fixed)
        again = prc_features_to_metric(
            torch.from_numpy(gen[idx]), torch.from_numpy(real), prc_neighborhood=3, verbose=False
        )
        assert precision[b] == pytest.approx(again["precision"])
        # recall: real images inside the ball of a drawn image, radii of the whole generated set
        assert recall[b] == pytest.approx(covers[np.unique(idx)].any(axis=0).mean())


def test_recentred_interval_is_the_percentile_interval_moved_onto_the_value():
    replicates = np.arange(101.0) + 10  # mean 60, percentile 90% interval [15, 105]
    assert bootstrap.recentred_interval(50.0, replicates, 0.9) == pytest.approx([5.0, 95.0])
    assert bootstrap.recentred_interval(50.0, replicates, 0.9, low=8.0) == pytest.approx([8.0, 95.0])
    gen, real = features(30, 12, 0.3, 0), features(400, 12, 0.0, 1)
    ref = (real.mean(axis=0), np.cov(real, rowvar=False))
    assert bootstrap.fid_value(gen, ref) == pytest.approx(fid_by_sqrtm(gen, ref), rel=1e-7)
    value, replicates = bootstrap.kid_replicates(gen, real[:30], resamples=3, seed=0, with_value=True)
    assert value == pytest.approx(
        mmd2(kernel_poly(gen, gen), kernel_poly(gen, real[:30]), kernel_poly(real[:30], real[:30]))
    )


def test_percentile_interval_and_seeded_resamples():
    assert bootstrap.percentile_interval(np.arange(101.0), 0.9) == pytest.approx([5.0, 95.0])
    a = list(bootstrap.resample_indices(10, 3, 1))
    b = list(bootstrap.resample_indices(10, 3, 1))
    assert all((x == y).all() for x, y in zip(a, b))
