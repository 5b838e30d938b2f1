"""FID∞: FID with its sample-size bias extrapolated away (Chong & Forsyth 2020, "Effectively Unbiased FID and
Inception Score and where to find them", CVPR; their ``FID_infinity``).

FID on N images is biased upward, by about ``c / N`` once N is well above the feature dimension d
(the bias depends on the model, so FIDs of two models at equal N are not fairly compared either).
Chong & Forsyth compute FID on subsets of several sizes N, fit ``FID_N = FID∞ + c / N`` by least
squares and report the intercept. Here: :data:`POINTS`-style settings give the number of sizes,
evenly spaced from n/2 to n (nested prefixes of one seeded permutation of the kept features, so
no feature is extracted again and a rerun gives the same number).

Where it holds: the 1/N law needs N well above d. In the calibration (Gaussian features of known
FID, ``tests/test_calibration.py``) the fit from n/2 to n lands on the true FID to within 0.5 of its
standard deviation when n >= 4d (smallest subset >= 2d), and misses by several standard deviations
below that (300 images in 64 dimensions fitted from n/5: -3.5 sd). So FID∞ is given only when
``n >= MIN_IMAGES_PER_DIMENSION * d``, else ``value`` is None and ``not_shown`` says why.

Its error: the standard deviation of FID∞ recomputed on ``halves`` random halves of the images
(half-sampling, as :mod:`ncsn.metrics.bootstrap`). FID∞'s spread falls faster than 1/n, so this
overstates its error (by about 1.4 in the calibration): the interval ``value ± z se`` is
conservative, measured to cover the true FID in 98-99% of draws at 95% (docs/metrics.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ncsn.metrics.bootstrap import FidAgainst

MIN_IMAGES_PER_DIMENSION = 4  # n >= 4 d: the smallest subset (n/2) holds >= 2 d images
METHOD = (
    "FID on nested subsets of n/2..n images fitted linearly in 1/N, intercept at 1/N = 0 (Chong & Forsyth 2020); "
    "error: standard deviation over random halves (conservative)"
)
COVERS = "the model's FID, free of the 1/N sample-size bias (reference fixed)"


def subset_sizes(n: int, points: int) -> np.ndarray:
    """``points`` subset sizes evenly spaced from n/2 to n (distinct, ascending)."""
    return np.unique(np.linspace(n // 2, n, points).round().astype(int))


def fid_curve(features: np.ndarray, fid: FidAgainst, order: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """FID of the first N features in ``order`` for every N of ``sizes`` (ascending), moments accumulated once
    (one block of rows in float64 at a time: 50,000 Inception features are not copied whole)."""
    d = features.shape[1]
    shift = np.asarray(features[order[: sizes[0]]], dtype=np.float64).mean(axis=0)  # sums around a mean: accurate
    total, outer = np.zeros(d), np.zeros((d, d))
    out, start = [], 0
    for size in sizes:
        block = np.asarray(features[order[start:size]], dtype=np.float64) - shift
        total += block.sum(axis=0)
        outer += block.T @ block
        start = size
        mean_d = total / size
        out.append(fid(shift + mean_d, (outer - size * np.outer(mean_d, mean_d)) / (size - 1)))
    return np.array(out)


def extrapolate(sizes: np.ndarray, fids: np.ndarray) -> tuple[float, float]:
    """(intercept, slope) of the least-squares line of FID against 1/N: FID∞ and the bias coefficient c."""
    slope, intercept = np.polyfit(1.0 / np.asarray(sizes, dtype=np.float64), fids, 1)
    return float(intercept), float(slope)


def _fid_infinity(
    features: np.ndarray, rows: np.ndarray, fid: FidAgainst, rng: np.random.Generator, points: int
) -> float:
    """FID∞ of the features' ``rows`` (subsets of them in a random order)."""
    order = rows[rng.permutation(len(rows))]
    sizes = subset_sizes(len(rows), points)
    return extrapolate(sizes, fid_curve(features, fid, order, sizes))[0]


def fid_infinity(
    features: np.ndarray, ref: tuple[np.ndarray, np.ndarray], settings: dict[str, Any], fid_n: float
) -> dict[str, Any]:
    """FID∞ of the generated ``features`` (n, d) against the reference (mu, sigma), with its error and interval.

    ``settings``: the filled ``intervals`` block (``fid_infinity_points``, ``fid_infinity_halves``,
    ``seed``, ``confidence``). ``fid_n`` is FID on all n images: ``bias_at_n = fid_n - value`` is the
    sample-size bias of the reported FID.
    """
    from scipy.stats import norm

    n, d = features.shape
    points, halves = settings["fid_infinity_points"], settings["fid_infinity_halves"]
    out: dict[str, Any] = {"value": None, "method": METHOD, "covers": COVERS}
    if n < MIN_IMAGES_PER_DIMENSION * d or points < 2:
        out["not_shown"] = (
            f"{n} images < {MIN_IMAGES_PER_DIMENSION} x {d} feature dimensions: FID's bias is not linear in 1/N there"
            if points >= 2
            else "intervals.fid_infinity_points < 2"
        )
        return out
    fid = FidAgainst(ref)
    rng = np.random.default_rng(settings["seed"])
    order = rng.permutation(n)
    sizes = subset_sizes(n, points)
    fids = fid_curve(features, fid, order, sizes)
    value, slope = extrapolate(sizes, fids)
    out.update(value=value, slope=slope, sizes=sizes.tolist(), fids=[round(float(v), 6) for v in fids])
    out["bias_at_n"] = fid_n - value
    if halves >= 2:
        half_values = [_fid_infinity(features, rng.permutation(n)[: n // 2], fid, rng, points) for _ in range(halves)]
        se = float(np.std(half_values, ddof=1))
        z = float(norm.ppf(0.5 + settings["confidence"] / 2))
        out.update(se=se, halves=halves, interval=[value - z * se, value + z * se])
    return out
