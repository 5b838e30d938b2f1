"""Best-checkpoint selection: the lowest FID on a small sample (CIFAR-10, CelebA), the last one (MNIST),
or the lowest FID among the k checkpoints of lowest held-out DSM loss (a cheaper selection).

NCSN paper App. B.2: 1000 samples per checkpoint, the smallest FID wins; MNIST takes the last
checkpoint. ``loss_topk`` ranks every checkpoint by its held-out loss (:mod:`ncsn.metrics.heldout`,
no sampling) and samples for FID only the k best of them. Ties go to the earlier checkpoint.
:func:`selection_stability` is a stability index of the choice (:data:`SELECTION_INSTABILITY`): how often
another checkpoint wins when every candidate's FID is recomputed on half its selection samples. It
is not the probability that another checkpoint wins on a fresh draw of the selection samples: it
conditions on the observed FIDs, so near a tie it reads about half that probability (0.25 against
0.5 at an exact tie; 0.29 measured in tests/test_calibration.py). [Re] names this selection noise as a cause of its gap (Fig. 13).
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from ncsn.errors import NcsnError
from ncsn.records import FID, FID_CLEANFID

CRITERIA = ("fid", "last", "loss_topk")
TABLE_COLUMNS = (
    "iteration",
    "checkpoint",
    "heldout_loss",
    "fid",
    "fid_low",
    "fid_high",
    "fid_cleanfid",
    "num_samples",
    "selected",
    "win_share",
)
SELECTION_INSTABILITY = (
    "share of half-sample redraws (each candidate's FID on half its selection samples) in which another checkpoint "
    "has the lowest FID: a stability index of the choice given these samples, not the probability that another "
    "checkpoint wins on a fresh draw (near a tie it reads about half that)"
)
_CKPT_NAME = re.compile(r"ckpt_(\d+)\.pt$")


def iteration_from_name(path: str) -> int:
    """The training iteration in a checkpoint file name ``ckpt_{iteration}.pt``."""
    match = _CKPT_NAME.search(str(path))
    if not match:
        raise NcsnError(f"cannot read the iteration from checkpoint name {path}; expected ckpt_<iteration>.pt")
    return int(match.group(1))


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def loss_candidates(entries: list[dict[str, Any]], k: int) -> list[int]:
    """Iterations of the ``k`` entries of lowest ``heldout_loss`` (ties to the earlier), in iteration order."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise NcsnError(f"selection.k must be a whole number >= 1, got {k!r}")
    missing = [e["checkpoint"] for e in entries if not _finite(e.get("heldout_loss"))]
    if missing:
        raise NcsnError(f"criterion loss_topk needs a held-out loss for every checkpoint; missing for {missing}")
    ranked = sorted(entries, key=lambda e: (e["heldout_loss"], e["iteration"]))
    return sorted(e["iteration"] for e in ranked[:k])


def loss_fid_spearman(entries: list[dict[str, Any]]) -> float | None:
    """Spearman rank correlation of held-out loss and FID over the entries that have both (None below 3)."""
    from scipy.stats import spearmanr

    both = [(e["heldout_loss"], e[FID]) for e in entries if _finite(e.get("heldout_loss")) and _finite(e.get(FID))]
    if len(both) < 3:
        return None
    losses, fids = zip(*both)
    return float(spearmanr(losses, fids).statistic)


def merge_by_iteration(*groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per iteration from several record lists (held-out losses, FID scores), later keys winning."""
    merged: dict[int, dict[str, Any]] = {}
    for group in groups:
        seen = set()
        for record in group:
            if record["iteration"] in seen:
                raise NcsnError(f"two records name iteration {record['iteration']}; pass each checkpoint once")
            seen.add(record["iteration"])
            merged.setdefault(record["iteration"], {}).update(record)
    return [merged[i] for i in sorted(merged)]


def select(scores: list[dict[str, Any]], criterion: str, k: int | None = None) -> dict[str, Any]:
    """Pick one entry of ``scores`` (each with ``checkpoint``, ``iteration``; ``fid`` and ``heldout_loss`` as the criterion needs).

    ``loss_topk`` needs a held-out loss for every entry and an FID for the ``k`` of lowest loss.
    """
    if criterion not in CRITERIA:
        raise NcsnError(f"selection criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    if not scores:
        raise NcsnError(
            "no checkpoint scores to select from; train first (and score the checkpoints for criterion fid)"
        )
    iterations = [s["iteration"] for s in scores]
    if len(set(iterations)) != len(iterations):
        raise NcsnError(f"two scores name the same iteration: {sorted(iterations)}; pass each checkpoint once")
    candidates = loss_candidates(scores, k) if criterion == "loss_topk" else iterations
    if criterion == "last":
        best = max(scores, key=lambda s: s["iteration"])
    else:
        pool = [s for s in scores if s["iteration"] in candidates]
        unscored = [s["checkpoint"] for s in pool if not _finite(s.get(FID))]
        if unscored:
            raise NcsnError(f"criterion {criterion} needs a finite FID for checkpoint(s) {unscored}; score them")
        best = min(pool, key=lambda s: (s[FID], s["iteration"]))
    stability = None if criterion == "last" else selection_stability(pool, best["iteration"])
    return {
        "criterion": criterion,
        "checkpoint": best["checkpoint"],
        "iteration": best["iteration"],
        FID: best.get(FID),
        FID_CLEANFID: best.get(FID_CLEANFID),
        "num_samples": best.get("num_samples"),
        "num_candidates": len(scores),
        "heldout_loss": best.get("heldout_loss"),
        "k": k if criterion == "loss_topk" else None,
        "fid_jobs": sum(_finite(s.get(FID)) for s in scores),
        "loss_fid_spearman": loss_fid_spearman(scores),
        "fid_interval": (best.get("intervals") or {}).get(FID),
        "selection_stability": stability,
    }


def selection_stability(pool: list[dict[str, Any]], chosen: int) -> dict[str, Any] | None:
    """The selection's stability index (:data:`SELECTION_INSTABILITY`) and each checkpoint's share of wins.

    Each score's half-sample FID replicates (``intervals.fid_replicates``, :mod:`ncsn.metrics.bootstrap`);
    replicate b of every candidate gives one selection (the lowest FID, ties to the earlier checkpoint).
    None without replicates for every candidate.
    """
    replicates = [(s.get("intervals") or {}).get("fid_replicates") for s in pool]
    if len(pool) < 2 or any(not r for r in replicates):
        return None
    count = min(len(r) for r in replicates)
    ordered = sorted(range(len(pool)), key=lambda i: pool[i]["iteration"])
    table = np.array([replicates[i][:count] for i in ordered])
    winners = [pool[ordered[j]]["iteration"] for j in table.argmin(axis=0)]  # argmin: the earliest of ties
    shares = {int(it): winners.count(it) / count for it in sorted({s["iteration"] for s in pool})}
    return {
        "resamples": count,
        "instability": 1.0 - shares[chosen],
        "win_share": shares,
        "meaning": SELECTION_INSTABILITY,
    }


def given_selection(checkpoint: str | Path) -> dict[str, Any]:
    """The selection record of an experiment that evaluates a given checkpoint (no training, no scores).

    The file is read once here, so a missing or foreign checkpoint fails before any sampling job.
    """
    from ncsn.checkpoint import load_checkpoint

    state = load_checkpoint(checkpoint)
    return {
        "criterion": "given",
        "checkpoint": str(checkpoint),
        "iteration": int(state["iteration"]),
        FID: None,
        FID_CLEANFID: None,
        "num_samples": None,
        "num_candidates": 1,
        "fid_interval": None,
        "selection_stability": None,
        "imported_from": state.get("settings", {}).get("imported_from"),
    }


def table_csv(scores: list[dict[str, Any]], selection: dict[str, Any]) -> str:
    """The FID-vs-checkpoint table as CSV text, one row per checkpoint in iteration order."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=TABLE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for s in sorted(scores, key=lambda s: s["iteration"]):
        row = {key: s.get(key, "") for key in TABLE_COLUMNS}
        row["checkpoint"] = str(Path(s["checkpoint"]))
        row["selected"] = int(s["iteration"] == selection["iteration"])
        row["fid_low"], row["fid_high"] = (s.get("intervals") or {}).get(FID) or ("", "")
        row["win_share"] = ((selection.get("selection_stability") or {}).get("win_share") or {}).get(s["iteration"], "")
        writer.writerow(row)
    return out.getvalue()
