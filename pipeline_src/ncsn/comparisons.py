"""Statistics of comparisons between experiments over training seeds: intervals, tests, multiplicity, power.

One comparison is two experiments on one data set, each run with several seeds (:mod:`ncsn.seeds`).
Runs that share a seed share their data order and initial noise draws, so their FID differences
are paired: :func:`paired_test` (Student's t on the per-seed differences). Without shared seeds
:func:`welch_interval` compares the means. Every p-value of a report's family is adjusted by
Holm's step-down method (:func:`holm`; Holm 1979), which controls the family-wise error at any
dependence. The sign test (wins out of k seeds) needs no normality but cannot reject at all with
few seeds (k = 3: its smallest two-sided p is 0.25): :func:`sign_test_power` says how often it
would reject, :func:`seeds_needed` how many seeds the paired t-test needs to resolve the observed
difference with 80% power.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

TARGET_POWER = 0.8


def mean_interval(values: Iterable[float], confidence: float) -> list[float]:
    """Student-t interval of the mean of independent runs (at least 2)."""
    from scipy import stats

    x = np.asarray(list(values), dtype=np.float64)
    half = stats.t.ppf((1 + confidence) / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return [float(x.mean() - half), float(x.mean() + half)]


def welch_interval(a: Iterable[float], b: Iterable[float], confidence: float) -> tuple[list[float], float]:
    """Welch's interval of mean(a) - mean(b) (unequal variances; at least 2 values each) and its two-sided p."""
    from scipy import stats

    a, b = np.asarray(list(a), dtype=np.float64), np.asarray(list(b), dtype=np.float64)
    result = stats.ttest_ind(a, b, equal_var=False)
    ci = result.confidence_interval(confidence)
    return [float(ci.low), float(ci.high)], float(result.pvalue)


def paired_test(differences: Iterable[float], confidence: float) -> tuple[list[float], float]:
    """Student-t interval of the mean per-seed difference (at least 2 seeds) and its two-sided p."""
    from scipy import stats

    d = np.asarray(list(differences), dtype=np.float64)
    result = stats.ttest_1samp(d, 0.0)
    ci = result.confidence_interval(confidence)
    return [float(ci.low), float(ci.high)], float(result.pvalue)


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm-adjusted p-values of a family (None entries are not in the family and stay None)."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (len(indexed) - rank) * p))
        out[i] = running
    return out


def sign_test(differences: Iterable[float]) -> float:
    """Two-sided sign test p-value of the per-seed differences (ties dropped)."""
    from scipy.stats import binomtest

    d = [x for x in differences if x != 0]
    return float(binomtest(sum(x > 0 for x in d), len(d), 0.5).pvalue) if d else 1.0


def sign_test_power(seeds: int, win_probability: float, alpha: float) -> float:
    """Probability that the two-sided sign test over ``seeds`` rejects at ``alpha`` when each seed goes one way
    with ``win_probability`` (0 when even ``seeds`` wins out of ``seeds`` cannot reach ``alpha``)."""
    from scipy.stats import binom, binomtest

    return float(
        sum(
            binom.pmf(wins, seeds, win_probability)
            for wins in range(seeds + 1)
            if binomtest(wins, seeds, 0.5).pvalue <= alpha
        )
    )


def paired_t_power(seeds: int, effect: float, alpha: float) -> float:
    """Power of the two-sided paired t-test over ``seeds`` seeds at standardised effect mean(d) / sd(d)."""
    from scipy import stats

    df = seeds - 1
    critical = stats.t.ppf(1 - alpha / 2, df)
    shift = abs(effect) * math.sqrt(seeds)
    return float(stats.nct.sf(critical, df, shift) + stats.nct.cdf(-critical, df, shift))


def seeds_needed(effect: float, alpha: float, most: int = 1000) -> int | None:
    """The fewest seeds (>= 2) at which the paired t-test has :data:`TARGET_POWER` for ``effect``; None beyond ``most``."""
    if math.isnan(effect) or effect == 0:
        return None
    if math.isinf(effect):  # every seed differs by the same amount
        return 2
    for seeds in range(2, most + 1):
        if paired_t_power(seeds, effect, alpha) >= TARGET_POWER:
            return seeds
    return None
