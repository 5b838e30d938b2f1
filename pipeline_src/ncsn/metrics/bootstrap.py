"""Intervals of FID, KID and precision/recall over the stored features of a generated set, by half-sampling.

What each interval covers (:data:`COVERS`): the *sampling noise of n images* around the metric's
expected value at that n, the reference fixed. For FID that is the expected FID at n
(``E FID_n``), never the model's FID: FID's small-sample bias (tens of FID below ~5 images per
feature dimension) is in the value and in ``E FID_n`` alike. FID without that bias is FID∞
(:mod:`ncsn.metrics.fid_infinity`); KID is unbiased, so its interval covers the population KID.

Method: half-sampling (delete-n/2 jackknife; Shao & Tu 1995, *The Jackknife and Bootstrap*,
Sec. 5.2; Politis, Romano & Wolf 1999, *Subsampling*). ``resamples`` times, half of the n images
are drawn *without* replacement (one seeded generator) and the metric recomputed on them. For a
smooth statistic the spread of these half-sample values around their mean is the spread of the
statistic at n (finite-population correction: sigma^2 (1/(n/2) - 1/n) = sigma^2 / n), and no image
is duplicated. The interval is the half-sample replicates' percentile interval moved to centre on
the value (``value + quantile - mean(replicates)``, :func:`recentred_interval`). Their mean minus
the value estimates FID's bias at n if it falls as 1/N (``fid_bias``).

Why not the bootstrap (with replacement): a resample holds ~63% distinct images, which for FID acts
as a smaller sample with duplicated rows. In the calibration (``tests/test_calibration.py``,
docs/metrics.md) its spread is 1.4x the true one at 300 images in 64 dimensions and 2-3x at n <= d
(80 digits in 64 dimensions; every Inception selection score: 1000 images, 2048 dimensions), so
its intervals over-cover (99-100%); half-sampling covers E FID_n at 93-97% in both regimes.

Arithmetic (a half-sample is a 0/1 weight vector ``w``, m = sum(w) images, nothing copied):

- FID: the half-sample's mean and covariance are weighted moments of the centred features
  (``Fc.T @ (w * Fc)``, O(n d^2)); the trace term ``tr sqrt(S1 S2)`` equals
  ``sum sqrt(eig(R S1 R))`` with ``R = S2^(1/2)`` (similar matrices), a symmetric
  eigen-decomposition per half-sample, ``R`` computed once. With m <= d (selection scores) the same
  eigenvalues are those of ``F S2 F.T`` (``S1 = F.T F``, F the m drawn rows, centred and scaled),
  entries of one n x n matrix ``C S2 C.T`` shifted per half-sample: O(n^2 + m^3) instead of O(d^3).
- KID: the unbiased MMD^2 with torch-fidelity's cubic kernel; the generated-generated kernel
  matrix, each generated image's summed kernel against the reference and the reference-reference
  term are computed once, a half-sample costs O(n^2).
- precision/recall (k-NN manifolds, torch-fidelity's definition): every generated image's "inside
  the real manifold" flag and the "real image j inside generated ball i" matrix are computed once;
  a half-sample's precision is the mean of its flags, its recall the share of real images inside a
  ball of a drawn image (balls keep their radii in the whole set; recall's interval is not calibrated).
"""

from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np

from ncsn.errors import NcsnError
from ncsn.records import FID, FID_CLEANFID, KID, PRECISION, RECALL

METHOD = (
    "half-sampling (n/2 images without replacement; Shao & Tu 1995, Sec. 5.2): percentile interval of the "
    "half-sample replicates re-centred on the value; reference fixed"
)
SAMPLING_NOISE = "sampling noise of the n images around the expected value at n (reference fixed)"
# what each interval of ``intervals`` covers, written beside it in every record and in the tables' notes
COVERS = {
    FID: f"{SAMPLING_NOISE}: E FID_n, not the model's FID (FID_n is biased upward at small n)",
    FID_CLEANFID: f"{SAMPLING_NOISE}: E FID_n in clean-fid's features",
    KID: f"{SAMPLING_NOISE}; KID is unbiased, so this is the population KID",
    PRECISION: SAMPLING_NOISE,
    RECALL: f"{SAMPLING_NOISE} (approximate: balls keep the whole set's radii; not calibrated)",
    "recognisable": "Wilson score interval of a binomial share: the share of recognisable samples of the model",
}


def resample_indices(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """``resamples`` half-samples: ``n // 2`` distinct indices of ``range(n)`` each (sorted), one seeded generator."""
    if n < 4:
        raise NcsnError(f"half-sampling needs at least 4 images, got {n}")
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        yield np.sort(rng.permutation(n)[: n // 2])


def resample_counts(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """The half-samples of :func:`resample_indices` as 0/1 weights per item (float64)."""
    for idx in resample_indices(n, resamples, seed):
        w = np.zeros(n)
        w[idx] = 1.0
        yield w


def percentile_interval(values: np.ndarray, confidence: float) -> list[float]:
    """``[low, high]``: the (1 - c)/2 and (1 + c)/2 quantiles of the replicates."""
    low, high = np.quantile(np.asarray(values, dtype=np.float64), [(1 - confidence) / 2, (1 + confidence) / 2])
    return [float(low), float(high)]


def recentred_interval(
    value: float, replicates: np.ndarray, confidence: float, low: float | None = None, high: float | None = None
) -> list[float]:
    """The replicates' percentile interval moved by ``value - mean(replicates)`` (centred on the value), clipped to
    [low, high]: with half-sample replicates, the sampling noise at n around the expected value at n."""
    bias = float(np.mean(replicates)) - value
    ends = [v - bias for v in percentile_interval(replicates, confidence)]
    return [float(np.clip(v, low, high)) if low is not None or high is not None else v for v in ends]


def wilson_interval(share: float, n: int, confidence: float) -> list[float]:
    """Wilson's score interval of a binomial share (the recognisable share of ``n`` samples): exact enough at
    small ``n`` and at shares near 0 or 1, where the normal approximation's interval leaves [0, 1]."""
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return [max(0.0, centre - half), min(1.0, centre + half)]


def psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix (negative round-off clipped)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def _trace_sqrt(matrix: np.ndarray) -> float:
    """``sum sqrt(eig(matrix))`` of a symmetric PSD matrix (negative round-off clipped)."""
    return float(np.sqrt(np.clip(np.linalg.eigvalsh((matrix + matrix.T) / 2), 0, None)).sum())


class FidAgainst:
    """FID of (mu, sigma) against one fixed reference; the reference's square root, needed only with
    more images than dimensions, is computed once, on first use."""

    def __init__(self, ref: tuple[np.ndarray, np.ndarray]) -> None:
        self.mu, self.sigma = (np.asarray(a, dtype=np.float64) for a in ref)
        self.trace = float(np.trace(self.sigma))
        self._root: np.ndarray | None = None

    @property
    def root(self) -> np.ndarray:
        if self._root is None:
            self._root = psd_sqrt(self.sigma)
        return self._root

    def __call__(self, mu: np.ndarray, sigma: np.ndarray) -> float:
        diff = mu - self.mu
        return float(diff @ diff + np.trace(sigma) + self.trace - 2 * _trace_sqrt(self.root @ sigma @ self.root))


class _GramRoute:
    """FID of weighted subsets of no more images than dimensions, from one n x n matrix.

    With ``S1 = F.T F`` (F: the m drawn rows, centred on the subset's mean, scaled by
    ``sqrt(w / (m - 1))``, m = sum(w)), ``eig(R S1 R) = eig(F S2 F.T)`` (nonzero part), so the trace term needs
    no square root of the reference: ``C S2 C.T`` (C the features centred on their mean) is
    formed once, and each resample's ``F S2 F.T`` and ``tr S1`` are its entries shifted by the
    resample's mean (O(n^2) and an m x m eigen-decomposition per resample, m the distinct images).
    """

    def __init__(self, centred: np.ndarray, fid: FidAgainst) -> None:
        self.n = len(centred)
        self.centred, self.fid = centred, fid
        self.gram_ref = centred @ fid.sigma @ centred.T  # C S2 C.T
        self.gram = centred @ centred.T  # C C.T

    def __call__(self, mean: np.ndarray, w: np.ndarray) -> float:
        m, drawn = float(w.sum()), w > 0
        shift = w @ self.centred / m  # the subset's mean, relative to the features' mean
        scale = np.sqrt(w[drawn] / (m - 1))
        ref_part = self.gram_ref @ w / m  # C S2 shift
        ref_shift = float(w @ ref_part) / m  # shift.T S2 shift
        g = self.gram_ref[np.ix_(drawn, drawn)] - ref_part[drawn, None] - ref_part[None, drawn] + ref_shift
        own_part = self.gram @ w / m
        trace_s1 = float(np.sum(w[drawn] * (np.diagonal(self.gram)[drawn] - 2 * own_part[drawn] + shift @ shift)))
        diff = mean + shift - self.fid.mu
        trace_sqrt = _trace_sqrt(scale[:, None] * g * scale[None, :])
        return float(diff @ diff + trace_s1 / (m - 1) + self.fid.trace - 2 * trace_sqrt)


def fid_replicates(features: np.ndarray, ref: tuple[np.ndarray, np.ndarray], resamples: int, seed: int) -> np.ndarray:
    """FID of every half-sample of the generated ``features`` (n, d) against the reference (mu, sigma)."""
    f = np.asarray(features, dtype=np.float64)
    n = len(f)
    mean = f.mean(axis=0)
    centred = f - mean
    fid = FidAgainst(ref)
    gram = _GramRoute(centred, fid) if n // 2 <= f.shape[1] else None  # no more images than dimensions
    out = np.empty(resamples)
    for b, w in enumerate(resample_counts(n, resamples, seed)):
        if gram is not None:
            out[b] = gram(mean, w)
        else:
            m = w.sum()
            shift = w @ centred / m
            sigma = (centred.T @ (w[:, None] * centred) - m * np.outer(shift, shift)) / (m - 1)
            out[b] = fid(mean + shift, sigma)
    return out


def fid_value(features: np.ndarray, ref: tuple[np.ndarray, np.ndarray]) -> float:
    """FID of all ``features`` by the half-samples' route (exact; the Gram route with no more images than dimensions)."""
    f = np.asarray(features, dtype=np.float64)
    fid = FidAgainst(ref)
    if len(f) <= f.shape[1]:
        return _GramRoute(f - f.mean(axis=0), fid)(f.mean(axis=0), np.ones(len(f)))
    return fid(f.mean(axis=0), np.cov(f, rowvar=False))


def _poly_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """torch-fidelity's KID kernel (x.y / d + 1)^3."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def kid_replicates(
    features: np.ndarray, ref_features: np.ndarray, resamples: int, seed: int, with_value: bool = False
) -> np.ndarray | tuple[float, np.ndarray]:
    """Unbiased MMD^2 (torch-fidelity's kernel) of every half-sample of the generated features against all reference
    features; with ``with_value`` also that of the whole set, ``(value, replicates)``."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(ref_features, dtype=np.float64)
    n, m = len(x), len(y)
    if min(n, m) < 2:
        raise NcsnError(f"a KID interval needs at least 2 images per set, got {n} and {m}")
    k_xx = _poly_kernel(x, x)
    diag = np.diagonal(k_xx).copy()
    cross = _poly_kernel(x, y).sum(axis=1)
    yy = 0.0
    for lo in range(0, m, 2048):  # the reference's own term, in row blocks
        block = _poly_kernel(y[lo : lo + 2048], y)
        yy += block.sum() - np.trace(block, offset=lo)
    yy /= m * (m - 1)

    def mmd(w: np.ndarray) -> float:
        k = float(w.sum())
        return float((w @ k_xx @ w - w @ diag) / (k * (k - 1)) + yy - 2 * (w @ cross) / (k * m))

    out = np.array([mmd(w) for w in resample_counts(n, resamples, seed)])
    return (mmd(np.ones(n)), out) if with_value else out


def precision_recall_parts(features: np.ndarray, ref_features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inside[i]: generated i in the real manifold, covers[i, j]: real j in generated i's ball), torch-fidelity's way."""
    import torch  # here: the intervals' arithmetic (and the report that uses it) stays torch-free
    from torch_fidelity.defaults import DEFAULTS
    from torch_fidelity.metric_prc import calc_cdist_part

    neighbourhood = DEFAULTS["prc_neighborhood"]
    gen = torch.from_numpy(np.asarray(features, dtype=np.float32))
    real = torch.from_numpy(np.asarray(ref_features, dtype=np.float32))
    if min(len(gen), len(real)) <= neighbourhood:
        raise NcsnError(
            f"precision/recall need more than {neighbourhood} images per set, got {len(gen)} and {len(real)}"
        )
    radius_gen = calc_cdist_part(gen, gen).kthvalue(neighbourhood + 1).values
    radius_real = calc_cdist_part(real, real).kthvalue(neighbourhood + 1).values
    dist = calc_cdist_part(gen, real)  # (generated, real)
    inside = (dist <= radius_real).any(dim=1).numpy()
    covers = (dist.T <= radius_gen).T.numpy()
    return inside, covers


def precision_recall_replicates(
    features: np.ndarray, ref_features: np.ndarray, resamples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(precision, recall) of every half-sample of the generated features against the fixed reference."""
    inside, covers = precision_recall_parts(features, ref_features)
    n = len(inside)
    precision, recall = np.empty(resamples), np.empty(resamples)
    for b, w in enumerate(resample_counts(n, resamples, seed)):
        precision[b] = w @ inside / w.sum()
        recall[b] = covers[w > 0].any(axis=0).mean()
    return precision, recall


def intervals(stats: Any, ref: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """Intervals of FID (both libraries), KID and precision/recall with what each covers (``covers``), FID's
    half-sample replicates (the selection's stability index) and bias estimate, and Wilson's interval of the
    recognisable share (classifier extractors).

    ``stats``/``ref`` are :class:`ncsn.metrics.fidelity.Statistics`; ``stats`` must hold every
    image's features (``fid_features``). ``settings`` is the filled ``intervals`` block. Metrics
    the reference cannot give (clean-fid statistics, kept features) get None.
    """
    resamples, seed, confidence = settings["resamples"], settings["seed"], settings["confidence"]
    out: dict[str, Any] = {"confidence": confidence, "resamples": resamples, "seed": seed, "method": METHOD}
    if resamples == 0:
        return out
    if stats.fid_features is None:
        raise NcsnError("the generated set's features were not kept; compute its statistics with keep_all=True")
    tf_features, clean_features = stats.fid_features
    fid = fid_replicates(tf_features, ref.torch_fidelity, resamples, seed)
    value = fid_value(tf_features, ref.torch_fidelity)
    out[FID] = recentred_interval(value, fid, confidence, low=0.0)
    out[FID_CLEANFID] = None
    if ref.cleanfid is not None and clean_features is not None:
        clean = fid_replicates(clean_features, ref.cleanfid, resamples, seed)
        out[FID_CLEANFID] = recentred_interval(fid_value(clean_features, ref.cleanfid), clean, confidence, low=0.0)
    out.update(kid=None, precision=None, recall=None)
    if stats.features is not None and ref.features is not None:
        kid_value, kid = kid_replicates(stats.features, ref.features, resamples, seed, with_value=True)
        out[KID] = recentred_interval(kid_value, kid, confidence)
        inside, covers = precision_recall_parts(stats.features, ref.features)
        precision, recall = precision_recall_replicates(stats.features, ref.features, resamples, seed)
        out[PRECISION] = recentred_interval(float(inside.mean()), precision, confidence, 0.0, 1.0)
        out[RECALL] = recentred_interval(float(covers.any(axis=0).mean()), recall, confidence, 0.0, 1.0)
    if stats.recognisable is not None:
        out["recognisable"] = wilson_interval(stats.recognisable, stats.count, confidence)
    out["covers"] = {key: text for key, text in COVERS.items() if out.get(key) is not None}
    out["fid_replicates"] = [round(float(v), 6) for v in fid]
    # E FID_{n/2} - FID_n: FID's bias at n when the bias falls as 1/N (n >> d); FID - FID∞ is the direct one
    out["fid_bias"] = round(float(np.mean(fid)) - value, 6)
    return out
