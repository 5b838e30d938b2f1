"""FID, Inception Score, KID and precision/recall of uint8 image arrays, streamed in batches, computed by the field's libraries.

Features do not accumulate beyond a cap: each batch updates float64 running sums (mean and
covariance per library) and the IS logits of the current split; the FID features of the first
:data:`MAX_SET_FEATURES` images in the (shuffled) visiting order are kept for KID and
precision/recall, which compare feature *sets*. The numbers themselves come from the libraries'
functions: torch-fidelity's ``fid_statistics_to_metric``, ``isc_features_to_metric``,
``kid_features_to_metric`` and ``prc_features_to_metric``, clean-fid's ``frechet_distance``.

KID and precision/recall use the FID features of the extractor (Inception's 2048-d pool, or the
classifier extractor's penultimate layer): torch-fidelity's defaults for KID, while its own default
for precision/recall is VGG-16, whose weights this pipeline does not have. KID's subset size is
torch-fidelity's 1000, lowered to the smaller set's size for small samples (torch-fidelity refuses
a subset larger than a set).

The same features give the same FID in both libraries up to float round-off (torch-fidelity
takes the trace of sqrt(sigma1 sigma2) from eigenvalues, clean-fid from ``scipy.linalg.sqrtm``).
What differs systematically is the input each library's pipeline feeds the network:
torch-fidelity passes uint8 tensors (its Inception resizes with a TF1-compatible bilinear
filter), clean-fid converts images to float (``ToTensor() * 255``, exact for uint8) after
its PIL bicubic resize. With the classifier extractor (no resize) the two FIDs agree to round-off
(tested to 1e-6 relative); with Inception the two resize filters make them differ
systematically, which is the point of clean-fid.
"""

from __future__ import annotations

import importlib.metadata
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from cleanfid.fid import frechet_distance
from torch_fidelity.defaults import DEFAULTS as TORCH_FIDELITY_DEFAULTS
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric
from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, isc_features_to_metric
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric
from torch_fidelity.metric_prc import KEY_METRIC_PRECISION, KEY_METRIC_RECALL, prc_features_to_metric

from ncsn.errors import NcsnError
from ncsn.metrics import classifier
from ncsn.metrics.extractors import Extractor
from ncsn.progress import Progress
from ncsn.records import FID, FID_CLEANFID, INCEPTION_SCORE, KID, PRECISION, RECALL

IS_SPLITS = TORCH_FIDELITY_DEFAULTS["isc_splits"]  # 10, as in the papers
SHUFFLE_SEED = TORCH_FIDELITY_DEFAULTS["rng_seed"]  # torch-fidelity shuffles before splitting for IS
KID_SUBSETS = TORCH_FIDELITY_DEFAULTS["kid_subsets"]  # 100
KID_SUBSET_SIZE = TORCH_FIDELITY_DEFAULTS["kid_subset_size"]  # 1000, capped by the set sizes
PRC_NEIGHBOURHOOD = TORCH_FIDELITY_DEFAULTS["prc_neighborhood"]  # 3 (Kynkaanniemi et al., 2019)
MAX_SET_FEATURES = 10000  # features kept per image set for KID and precision/recall (memory: 10000 x 2048 x 4 B)
LIBRARY_VERSIONS = {name: importlib.metadata.version(name) for name in ("torch-fidelity", "clean-fid")}


class RunningMoments:
    """Mean and covariance of a stream of feature batches in float64.

    Sums are taken around the first batch's mean (a shift that keeps the covariance accurate when
    features have a large mean); the covariance is unbiased (ddof=1), as ``np.cov``.
    """

    def __init__(self) -> None:
        self.count = 0
        self.shift: np.ndarray | None = None
        self.total: np.ndarray | None = None
        self.outer: np.ndarray | None = None

    def update(self, features: np.ndarray | torch.Tensor) -> None:
        f = np.asarray(features, dtype=np.float64)
        if self.shift is None:
            self.shift = f.mean(axis=0)
            self.total = np.zeros_like(self.shift)
            self.outer = np.zeros((f.shape[1], f.shape[1]))
        d = f - self.shift
        self.total += d.sum(axis=0)
        self.outer += d.T @ d
        self.count += len(f)

    def statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """(mu, sigma) of everything seen so far."""
        if self.count < 2:
            raise NcsnError(f"FID statistics need at least 2 images, got {self.count}")
        mean_d = self.total / self.count
        sigma = (self.outer - self.count * np.outer(mean_d, mean_d)) / (self.count - 1)
        return self.shift + mean_d, sigma


@dataclass
class Statistics:
    """Per-library FID statistics of one image set, and its Inception Score per split."""

    count: int
    torch_fidelity: tuple[np.ndarray, np.ndarray]
    cleanfid: tuple[np.ndarray, np.ndarray] | None  # None where clean-fid's pipeline was skipped or not saved
    is_per_split: list[float] = field(default_factory=list)
    features: np.ndarray | None = None  # float32 FID features of up to MAX_SET_FEATURES images, for KID and PRC
    recognisable: float | None = None  # share the data's classifier is sure of (classifier extractor only)
    # every image's FID features (torch-fidelity's, clean-fid's or None), float32, for the intervals and FID∞ (keep_all=True)
    fid_features: tuple[np.ndarray, np.ndarray | None] | None = None

    def inception_score(self) -> dict[str, Any]:
        """Mean and standard deviation over splits, aggregated as torch-fidelity does."""
        if not self.is_per_split:
            raise NcsnError("the Inception Score was not computed for this image set (is_splits=0)")
        return {
            "mean": float(np.mean(self.is_per_split)),
            "std": float(np.std(self.is_per_split)),
            "splits": len(self.is_per_split),
        }


def split_bounds(count: int, splits: int) -> list[int]:
    """Split boundaries ``i * N // splits`` (torch-fidelity's); one split over everything when ``splits`` is 0."""
    if splits < 0 or (splits and count < splits):
        raise NcsnError(
            f"cannot cut {count} images into {splits} Inception Score splits; use more samples or fewer splits"
        )
    parts = splits or 1
    return [i * count // parts for i in range(parts + 1)]


def image_statistics(
    images: np.ndarray,
    extractor: Extractor,
    is_splits: int = IS_SPLITS,
    shuffle_seed: int | None = SHUFFLE_SEED,
    max_features: int = MAX_SET_FEATURES,
    keep_all: bool = False,
    cleanfid: bool = True,
) -> Statistics:
    """Stream ``images`` (uint8 NHWC) through both libraries' feature pipelines.

    Images are visited in torch-fidelity's shuffled order (``RandomState(shuffle_seed)``, no shuffle
    when None), cut into ``is_splits`` splits; each split's logits give one IS value
    (``isc_features_to_metric`` on that split alone), so memory holds one split's logits at most.
    The FID features of the first ``max_features`` images visited (a random subset) are kept.
    With the classifier extractor the same logits give the share of recognisable images. ``keep_all``
    also keeps every image's features of both libraries (float32; 50,000 Inception images: 0.8 GB)
    for the half-sample intervals (:mod:`ncsn.metrics.bootstrap`) and FID∞ (:mod:`ncsn.metrics.fid_infinity`).
    Without ``cleanfid`` clean-fid's pipeline is skipped (its statistics and features are None).
    """
    extractor.check_images(images, "images to score")
    count = len(images)
    order = np.arange(count) if shuffle_seed is None else np.random.RandomState(shuffle_seed).permutation(count)
    bounds = split_bounds(count, is_splits)
    tf_moments, clean_moments = RunningMoments(), RunningMoments()
    is_values, kept = [], []
    every: tuple[list, list] = ([], [])
    recognised = 0
    with Progress(count, "features", unit="images") as progress:
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            logits = []
            for start in range(lo, hi, extractor.batch_size):
                batch = images[order[start : min(start + extractor.batch_size, hi)]]
                fid_features, batch_logits = extractor.torch_fidelity_features(batch)
                tf_moments.update(fid_features)
                room = max_features - sum(len(f) for f in kept)
                if room > 0:
                    kept.append(np.asarray(fid_features[:room], dtype=np.float32))
                if keep_all:
                    every[0].append(np.asarray(fid_features, dtype=np.float32))
                if cleanfid:
                    clean_features = extractor.cleanfid_features(batch)
                    clean_moments.update(clean_features)
                    if keep_all:
                        every[1].append(np.asarray(clean_features, dtype=np.float32))
                if extractor.classifies_data:
                    recognised += int(classifier.recognisable(batch_logits).sum())
                if is_splits:
                    logits.append(batch_logits)
                progress.update(len(batch))
            if is_splits:
                split_is = isc_features_to_metric(torch.cat(logits), splits=1, shuffle=False)
                is_values.append(split_is[KEY_METRIC_ISC_MEAN])
    features = np.concatenate(kept) if kept else None
    share = recognised / count if extractor.classifies_data else None
    return Statistics(
        count,
        tf_moments.statistics(),
        clean_moments.statistics() if cleanfid else None,
        is_values,
        features=features,
        recognisable=share,
        fid_features=(np.concatenate(every[0]), np.concatenate(every[1]) if cleanfid else None) if keep_all else None,
    )


def fid_torch_fidelity(stats: tuple[np.ndarray, np.ndarray], ref: tuple[np.ndarray, np.ndarray]) -> float:
    """FID by torch-fidelity's statistics-to-metric function."""
    (mu1, sigma1), (mu2, sigma2) = stats, ref
    return float(
        fid_statistics_to_metric({"mu": mu1, "sigma": sigma1}, {"mu": mu2, "sigma": sigma2}, verbose=False)[
            KEY_METRIC_FID
        ]
    )


def fid_cleanfid(stats: tuple[np.ndarray, np.ndarray], ref: tuple[np.ndarray, np.ndarray]) -> float:
    """FID by clean-fid's ``frechet_distance``."""
    (mu1, sigma1), (mu2, sigma2) = stats, ref
    with warnings.catch_warnings():  # clean-fid 0.1.35 passes scipy's deprecated sqrtm(disp=False)
        warnings.filterwarnings("ignore", message="The `disp` argument is deprecated", category=DeprecationWarning)
        return float(frechet_distance(mu1, sigma1, mu2, sigma2))


def kid(features: np.ndarray, ref_features: np.ndarray) -> dict[str, Any]:
    """KID (mean and std over subsets) by torch-fidelity, the subset size capped by the smaller set."""
    size = min(KID_SUBSET_SIZE, len(features), len(ref_features))
    if size < 2:
        raise NcsnError(f"KID needs at least 2 images per set, got {len(features)} and {len(ref_features)}")
    out = kid_features_to_metric(
        torch.from_numpy(features),
        torch.from_numpy(ref_features),
        kid_subsets=KID_SUBSETS,
        kid_subset_size=size,
        rng_seed=SHUFFLE_SEED,
        verbose=False,
    )
    return {
        "mean": out[KEY_METRIC_KID_MEAN],
        "std": out[KEY_METRIC_KID_STD],
        "subset_size": size,
        "subsets": KID_SUBSETS,
    }


def precision_recall(features: np.ndarray, ref_features: np.ndarray) -> dict[str, float]:
    """Precision (generated in the real manifold) and recall (real in the generated one) by torch-fidelity."""
    if min(len(features), len(ref_features)) <= PRC_NEIGHBOURHOOD:
        raise NcsnError(
            f"precision/recall need more than {PRC_NEIGHBOURHOOD} images per set, got {len(features)} and {len(ref_features)}"
        )
    out = prc_features_to_metric(
        torch.from_numpy(features),
        torch.from_numpy(ref_features),
        prc_neighborhood=PRC_NEIGHBOURHOOD,
        prc_batch_size=TORCH_FIDELITY_DEFAULTS["prc_batch_size"],
        save_cpu_ram=True,
        verbose=False,
    )
    return {PRECISION: out[KEY_METRIC_PRECISION], RECALL: out[KEY_METRIC_RECALL]}


def compare(stats: Statistics, ref: Statistics) -> dict[str, Any]:
    """FID of ``stats`` against ``ref`` by both libraries; KID and precision/recall when both kept features.

    Without features on either side (statistics files hold only mu and sigma) those keys are None,
    as is clean-fid's FID where either side lacks its (mu, sigma) (not saved, or skipped).
    """
    if stats.torch_fidelity[0].shape != ref.torch_fidelity[0].shape:
        raise NcsnError(
            f"the two image sets' features differ in size ({stats.torch_fidelity[0].shape[0]} vs {ref.torch_fidelity[0].shape[0]}): "
            "the statistics were computed with another feature extractor"
        )
    out: dict[str, Any] = {
        FID: fid_torch_fidelity(stats.torch_fidelity, ref.torch_fidelity),
        FID_CLEANFID: None
        if stats.cleanfid is None or ref.cleanfid is None
        else fid_cleanfid(stats.cleanfid, ref.cleanfid),
        KID: None,
        PRECISION: None,
        RECALL: None,
    }
    if stats.features is not None and ref.features is not None:
        out[KID] = kid(stats.features, ref.features)
        out.update(precision_recall(stats.features, ref.features))
    return out


def quality(stats: Statistics, ref: Statistics) -> dict[str, Any]:
    """The sample-quality fields (:data:`ncsn.records.QUALITY`) of ``stats`` against ``ref``: the IS and
    :func:`compare`'s. The one builder of that part of a score, the final metrics and ``ncsn fidelity``'s record."""
    return {INCEPTION_SCORE: stats.inception_score(), **compare(stats, ref)}


def summary_line(metrics: dict) -> str:
    """IS, both FIDs, KID and precision/recall of a metrics dict in one line."""
    score = metrics[INCEPTION_SCORE]
    line = f"IS {score['mean']:.4g} ± {score['std']:.2g}, FID {metrics[FID]:.4g}"
    fid_interval = (metrics.get("intervals") or {}).get(FID)
    if fid_interval:
        line += f" [{fid_interval[0]:.4g}, {fid_interval[1]:.4g}]"
    infinity = metrics.get("fid_infinity") or {}
    if infinity.get("value") is not None:
        line += f", FID∞ {infinity['value']:.4g}"
    if metrics.get(FID_CLEANFID) is not None:
        line += f" (clean-fid {metrics[FID_CLEANFID]:.4g})"
    if metrics.get(KID) is not None:
        line += f", KID {metrics[KID]['mean']:.4g} ± {metrics[KID]['std']:.2g}"
        line += f", precision {metrics[PRECISION]:.3g}, recall {metrics[RECALL]:.3g}"
    return line
