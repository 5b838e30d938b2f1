"""Best-checkpoint selection: the lowest FID on a small sample (CIFAR-10, CelebA) or the last one (MNIST).

NCSN paper App. B.1: 1000 samples per checkpoint, the smallest FID wins; MNIST takes the last
checkpoint. Ties on FID go to the earlier checkpoint.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path
from typing import Any

from ncsn.errors import NcsnError

CRITERIA = ("fid", "last")
TABLE_COLUMNS = ("iteration", "checkpoint", "fid", "fid_cleanfid", "num_samples", "selected")
_CKPT_NAME = re.compile(r"ckpt_(\d+)\.pt$")


def iteration_from_name(path: str) -> int:
    """The training iteration in a checkpoint file name ``ckpt_{iteration}.pt``."""
    match = _CKPT_NAME.search(str(path))
    if not match:
        raise NcsnError(f"cannot read the iteration from checkpoint name {path}; expected ckpt_<iteration>.pt")
    return int(match.group(1))


def select(scores: list[dict[str, Any]], criterion: str) -> dict[str, Any]:
    """Pick one entry of ``scores`` (each with ``checkpoint``, ``iteration`` and, for ``fid``, ``fid``)."""
    if criterion not in CRITERIA:
        raise NcsnError(f"selection criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    if not scores:
        raise NcsnError("no checkpoint scores to select from; train first (and score the checkpoints for criterion fid)")
    iterations = [s["iteration"] for s in scores]
    if len(set(iterations)) != len(iterations):
        raise NcsnError(f"two scores name the same iteration: {sorted(iterations)}; pass each checkpoint once")
    if criterion == "last":
        best = max(scores, key=lambda s: s["iteration"])
    else:
        unscored = [s["checkpoint"] for s in scores if not isinstance(s.get("fid"), (int, float)) or math.isnan(s["fid"])]
        if unscored:
            raise NcsnError(f"criterion fid needs a finite FID for every checkpoint; missing for {unscored}")
        best = min(scores, key=lambda s: (s["fid"], s["iteration"]))
    return {
        "criterion": criterion,
        "checkpoint": best["checkpoint"],
        "iteration": best["iteration"],
        "fid": best.get("fid"),
        "fid_cleanfid": best.get("fid_cleanfid"),
        "num_samples": best.get("num_samples"),
        "num_candidates": len(scores),
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
        "fid": None,
        "fid_cleanfid": None,
        "num_samples": None,
        "num_candidates": 1,
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
        writer.writerow(row)
    return out.getvalue()
