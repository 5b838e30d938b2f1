"""Calibration: do the intervals cover what they claim, as often as they claim?

Gaussian features of known FID (closed form with scipy's ``sqrtm``, independent of the pipeline's
eigenvalue route), many independent draws of n generated images against a fixed reference:

- the half-sample FID interval (:mod:`ncsn.metrics.bootstrap`) claims to cover E FID_n (the expected
  FID at n images); E FID_n is the mean of FID over many more independent draws;
- FID∞ (:mod:`ncsn.metrics.fid_infinity`) claims the model's FID, conservatively.

Regimes: many more images than dimensions (the digits final: 300 images, 64-d, here 5 per
dimension and 50 per dimension) and no more images than dimensions (the digits selection: 80
images, 64-d; Inception selection scores: 1000, 2048-d). docs/metrics.md lists the measured numbers.
"""

import numpy as np
import pytest
import scipy.linalg

from ncsn.metrics import bootstrap, fid_infinity

CONFIDENCE = 0.95
DRAWS = 300  # binomial sd of a 95% coverage: 1.3 points
TOLERANCE = 0.04  # "within a few points of nominal"


def gaussian(d, seed=0):
    """(mean, Cholesky factor, reference (mu, sigma), true FID) of a generated N(mu, S) against the reference N(0, I)."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(0, 0.3, d)
    a = rng.normal(size=(d, d)) / np.sqrt(d)
    sigma = 0.5 * np.eye(d) + 0.5 * a @ a.T
    true = mu @ mu + np.trace(sigma) + d - 2 * np.trace(scipy.linalg.sqrtm(sigma).real)
    return mu, np.linalg.cholesky(sigma), (np.zeros(d), np.eye(d)), float(true)


def draws(d, n, count, seed):
    mu, chol, _, _ = gaussian(d)
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield mu + rng.normal(size=(n, d)) @ chol.T


def interval_coverage(d, n, resamples=100):
    """(coverage of E FID_n by the half-sample interval, E FID_n, true FID, mean width)."""
    _, _, ref, true = gaussian(d)
    expected = np.mean([bootstrap.fid_value(f, ref) for f in draws(d, n, 3000, seed=1)])
    hits, widths = 0, []
    for i, f in enumerate(draws(d, n, DRAWS, seed=2)):
        value = bootstrap.fid_value(f, ref)
        replicates = bootstrap.fid_replicates(f, ref, resamples, seed=i)
        low, high = bootstrap.recentred_interval(value, replicates, CONFIDENCE, low=0.0)
        hits += low <= expected <= high
        widths.append(high - low)
    return hits / DRAWS, float(expected), true, float(np.mean(widths))


@pytest.mark.parametrize(
    "d, n",
    [(4, 200), (12, 60), (16, 16), (16, 10)],  # 50 and 5 images per dimension; n = d; n < d
)
def test_half_sample_fid_interval_covers_the_expected_fid_at_n(d, n):
    coverage, expected, true, _ = interval_coverage(d, n)
    assert abs(coverage - CONFIDENCE) <= TOLERANCE, (coverage, d, n)
    if n <= d:  # and E FID_n is not the model's FID: the bias dwarfs the interval there
        assert expected > 2 * true


def test_with_replacement_bootstrap_would_over_cover_at_n_le_d():
    """The method replaced: resampling with replacement spreads FID 2x too wide when n <= d."""
    d, n = 16, 16
    _, _, ref, _ = gaussian(d)
    values = [bootstrap.fid_value(f, ref) for f in draws(d, n, 400, seed=3)]
    rng = np.random.default_rng(0)
    spreads = []
    for f in draws(d, n, 20, seed=4):
        spreads.append(np.std([bootstrap.fid_value(f[rng.integers(0, n, n)], ref) for _ in range(100)]))
    assert np.mean(spreads) > 1.5 * np.std(values)


def test_fid_infinity_lands_on_the_true_fid_within_its_stated_error():
    d, n = 4, 200
    _, _, ref, true = gaussian(d)
    settings = {"fid_infinity_points": 8, "fid_infinity_halves": 20, "seed": 0, "confidence": CONFIDENCE}
    results = []
    for i, f in enumerate(draws(d, n, 200, seed=5)):
        results.append(fid_infinity.fid_infinity(f, ref, {**settings, "seed": i}, bootstrap.fid_value(f, ref)))
    values = np.array([r["value"] for r in results])
    inside = np.mean([r["interval"][0] <= true <= r["interval"][1] for r in results])
    assert CONFIDENCE - 0.02 <= inside <= 1.0  # conservative, as stated
    assert abs(values.mean() - true) < 0.5 * values.std()  # unbiased to within half its spread
    fid_n = np.array([bootstrap.fid_value(f, ref) for f in draws(d, n, 200, seed=5)])
    assert abs(fid_n.mean() - true) > 2 * abs(values.mean() - true)  # FID_n's bias, removed
    assert np.mean([r["bias_at_n"] for r in results]) == pytest.approx(fid_n.mean() - true, rel=0.5)


def test_fid_infinity_is_withheld_below_four_images_per_dimension():
    d, n = 16, 60
    _, _, ref, _ = gaussian(d)
    f = next(draws(d, n, 1, seed=6))
    out = fid_infinity.fid_infinity(f, ref, {"fid_infinity_points": 8, "fid_infinity_halves": 2, "seed": 0}, 1.0)
    assert out["value"] is None and "60 images < 4 x 16" in out["not_shown"]


def test_selection_stability_index_reads_about_half_the_redraw_rate_at_a_tie():
    """Two checkpoints of the same distribution: on a fresh draw either wins half the time; the stability index
    (ncsn.metrics.selection) conditions on the drawn samples and reads about a quarter, as docs/metrics.md says."""
    from ncsn.metrics.selection import select

    d, n = 4, 200
    _, _, ref, _ = gaussian(d)
    sets = list(draws(d, n, 120, seed=7))
    indices = []
    for i in range(0, len(sets), 2):
        scores = [
            {"checkpoint": f"ckpt_{it}.pt", "iteration": it, "fid": bootstrap.fid_value(f, ref)}
            | {"intervals": {"fid_replicates": list(bootstrap.fid_replicates(f, ref, 100, seed=i + k))}}
            for k, (it, f) in enumerate(((100, sets[i]), (200, sets[i + 1])))
        ]
        indices.append(select(scores, "fid")["selection_stability"]["instability"])
    assert np.mean(indices) == pytest.approx(0.25, abs=0.06), np.mean(indices)
