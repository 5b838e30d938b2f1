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

The report's two tables over seeds are built here too, from its per-run rows (:mod:`ncsn.report.tables`):
:func:`seed_summary` (each experiment's mean FID over its seeds and the interval of that mean) and
:func:`fid_comparisons` (every pair of experiments on one data set, judged with the tests above).
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ncsn.metrics.bootstrap import recentred_interval

TARGET_POWER = 0.8


def missing(value: Any) -> bool:
    """Whether a table cell holds no number (None, pandas' NA or NaN): skipped by means, shown as '-'."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


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


# ----------------------------------------------------------------------------- the report's tables over seeds

SEED_COLUMNS = [
    "experiment",
    "dataset",
    "schedule",
    "seeds",
    "fid_mean",
    "fid_std",
    "fid_infinity_mean",
    "fid_cleanfid_mean",
    "fid_cleanfid_std",
    "is_mean",
    "precision",
    "recall",
    "selection_instability",
    "interval",
    "fid_mean_low",
    "fid_mean_high",
    "fid_cleanfid_mean_low",
    "fid_cleanfid_mean_high",
]
COMPARISON_COLUMNS = [
    "dataset",
    "experiment_a",
    "experiment_b",
    "seeds",
    "fid_a",
    "fid_b",
    "difference",
    "difference_low",
    "difference_high",
    "method",
    "p_value",
    "p_holm",
    "resolved",
    "lower_fid",
    "sign_test_p",
    "sign_test_power",
    "seeds_for_80_power",
]
ONE_SEED = "sampling noise only; training variance unknown"
COMPARISON_NOTES = [
    "difference = fid_a - fid_b. Seed-paired t over the seeds both ran (at least 2); Welch's t over unpaired seeds; "
    "with one seed the half-sample replicates' difference (sampling noise only: no verdict).",
    "resolved: Holm-adjusted p (p_holm, over this table's seed-based comparisons) below 1 - confidence; the "
    "interval is per comparison, unadjusted.",
    "sign_test_power: chance that the two-sided sign test over these seeds rejects if each seed goes the mean's way "
    "with probability Phi(|mean / sd|) of the paired differences (0: not even all wins can reject); "
    "seeds_for_80_power: seeds the paired t-test needs for 80% power at the observed mean / sd.",
]


def _by_experiment(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row.get("seed_of") or row["experiment"], []).append(row)
    return groups


def _mean(rows: list[Mapping[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if not missing(r.get(key))]
    return float(np.mean(values)) if values else None


def seed_summary(rows: Iterable[Mapping[str, Any]], confidence: float) -> pd.DataFrame:
    """One row per experiment over its seeds: mean and std of both FIDs, the t interval of the mean
    (one seed: that run's half-sample interval, which covers sampling noise only)."""
    out = []
    for name, runs in _by_experiment(rows).items():
        row: dict[str, Any] = {
            "experiment": name,
            "dataset": runs[0]["dataset"],
            "schedule": runs[0]["schedule"],
            "seeds": len(runs),
            "fid_infinity_mean": _mean(runs, "fid_infinity"),
            "is_mean": _mean(runs, "is_mean"),
            "precision": _mean(runs, "precision"),
            "recall": _mean(runs, "recall"),
            "selection_instability": _mean(runs, "selection_instability"),
        }
        for column in ("fid", "fid_cleanfid"):
            values = [r[column] for r in runs]
            if any(missing(v) for v in values):  # clean-fid's FID not computed (evaluation.cleanfid: false)
                row[f"{column}_mean"] = row[f"{column}_mean_low"] = row[f"{column}_mean_high"] = None
                continue
            row[f"{column}_mean"] = float(np.mean(values))
            if len(runs) > 1:
                row[f"{column}_std"] = float(np.std(values, ddof=1))
                row[f"{column}_mean_low"], row[f"{column}_mean_high"] = mean_interval(values, confidence)
            else:
                row[f"{column}_mean_low"], row[f"{column}_mean_high"] = (
                    runs[0][f"{column}_low"],
                    runs[0][f"{column}_high"],
                )
        row["interval"] = (
            f"t over {len(runs)} seeds (training and sampling noise)"
            if len(runs) > 1
            else f"half-sample interval of the one run ({ONE_SEED})"
        )
        out.append(row)
    return pd.DataFrame(out, columns=SEED_COLUMNS)


def _compare(ra: list[Mapping[str, Any]], rb: list[Mapping[str, Any]], confidence: float) -> dict[str, Any]:
    """One comparison's difference, interval, p-value and power: seed-paired over shared seeds (at least 2),
    Welch's over unshared seeds, else the half-sample replicates of one run each (sampling noise only).
    The difference shown is always the one the interval is about."""
    from scipy.stats import norm

    alpha = 1 - confidence
    a, b = {r["seed"]: r for r in ra}, {r["seed"]: r for r in rb}
    shared = sorted(set(a) & set(b), key=str)
    out: dict[str, Any] = {"p_value": None, "sign_test_p": None, "sign_test_power": None, "seeds_for_80_power": None}
    if len(shared) >= 2:
        d = np.array([a[s]["fid"] - b[s]["fid"] for s in shared])
        interval, out["p_value"] = paired_test(d, confidence)
        effect = float(d.mean() / d.std(ddof=1)) if d.std(ddof=1) > 0 else math.copysign(math.inf, d.mean())
        out.update(
            seeds=len(shared),
            fid_a=float(np.mean([a[s]["fid"] for s in shared])),
            fid_b=float(np.mean([b[s]["fid"] for s in shared])),
            method=f"seed-paired t over {len(shared)} seeds",
            sign_test_p=sign_test(d),
            # each seed's difference has the mean's sign with chance Phi(|effect|) (normal model of the differences)
            sign_test_power=sign_test_power(len(shared), float(norm.cdf(abs(effect))), alpha),
            seeds_for_80_power=seeds_needed(effect, alpha),
        )
    elif len(ra) > 1 and len(rb) > 1:
        fa, fb = [r["fid"] for r in ra], [r["fid"] for r in rb]
        interval, out["p_value"] = welch_interval(fa, fb, confidence)
        out.update(
            seeds=f"{len(fa)} and {len(fb)}",
            fid_a=float(np.mean(fa)),
            fid_b=float(np.mean(fb)),
            method=f"Welch t over {len(fa)} and {len(fb)} unpaired seeds",
        )
    else:
        first_a, first_b = (a[shared[0]], b[shared[0]]) if shared else (ra[0], rb[0])
        out.update(seeds=1, fid_a=first_a["fid"], fid_b=first_b["fid"], method="none (no replicates)")
        interval = [None, None]
        if first_a.get("fid_replicates") and first_b.get("fid_replicates"):
            count = min(len(first_a["fid_replicates"]), len(first_b["fid_replicates"]))
            diff = np.subtract(first_a["fid_replicates"][:count], first_b["fid_replicates"][:count])
            interval = recentred_interval(first_a["fid"] - first_b["fid"], diff, confidence)
            out["method"] = "half-sample replicates of one run each (sampling noise at n, E FID_n)"
    out.update(difference=out["fid_a"] - out["fid_b"], difference_low=interval[0], difference_high=interval[1])
    return out


def fid_comparisons(rows: Iterable[Mapping[str, Any]], confidence: float) -> pd.DataFrame:
    """Every pair of experiments on the same data set: FID difference (a - b), its interval, its p-value and the
    Holm-adjusted one over the family of seed-based comparisons, resolved or not at the adjusted level, the sign
    test's p and power and the seeds the paired t-test needs for 80% power. With one seed a pair is not judged
    (:data:`ONE_SEED`): its interval covers sampling noise only."""
    groups = _by_experiment(rows)
    names = list(groups)
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if groups[a][0]["dataset"] == groups[b][0]["dataset"]:
                out.append(
                    {"dataset": groups[a][0]["dataset"], "experiment_a": a, "experiment_b": b}
                    | _compare(groups[a], groups[b], confidence)
                )
    for row, adjusted in zip(out, holm([row["p_value"] for row in out])):
        row["p_holm"] = adjusted
        if adjusted is None:
            row["resolved"], row["lower_fid"] = ONE_SEED, "-"
            continue
        resolved = adjusted < 1 - confidence
        row["resolved"] = f"{'yes' if resolved else 'no'} (Holm, {confidence:.0%})"
        row["lower_fid"] = (
            (row["experiment_a"] if row["difference"] < 0 else row["experiment_b"]) if resolved else "unresolved"
        )
    return pd.DataFrame(out, columns=COMPARISON_COLUMNS)
