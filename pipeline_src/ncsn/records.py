"""The artifact contract: every JSON record one job passes to another, its fields named once.

Each record kind below names the fields its readers rely on and the workflow step that writes
it. ``KIND.write(path, data)`` checks the fields and writes the record with ``format_version``
(:data:`FORMAT_VERSION`); ``KIND.read(path)`` checks the version and the fields and raises an
:class:`~ncsn.errors.NcsnError` that names the file and the step to rerun when the file is from
another format version or damaged. Records kept inside an ``.npz`` (a sample shard's and the
reference statistics' ``meta``) go through ``KIND.dumps`` / ``KIND.loads`` the same way.
Torch-free: the workflow reads records while it plans.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ncsn.errors import NcsnError
from ncsn.io import atomic_path

FORMAT_VERSION = 1  # raise it when a field changes meaning or goes away; readers then ask for a rerun
VERSION_FIELD = "format_version"


@dataclass(frozen=True)
class Record:
    """One kind of record: its name, the step that writes it (what to rerun) and its required fields."""

    kind: str
    step: str
    fields: tuple[str, ...]

    def _problem(self, data: Any) -> str | None:
        """What makes ``data`` not a current record of this kind (None when it is one)."""
        if not isinstance(data, dict):
            return f"holds a JSON {type(data).__name__}, not an object"
        version = data.get(VERSION_FIELD)
        if version != FORMAT_VERSION:
            found = "no format version (written before records had one)" if version is None else f"version {version!r}"
            return f"has {found}; this code reads format version {FORMAT_VERSION}"
        missing = [field for field in self.fields if field not in data]
        return f"lacks the field(s) {missing}" if missing else None

    def _rerun(self, where: str, problem: str) -> NcsnError:
        return NcsnError(
            f"{where} {problem}: it is not a {self.kind} this code can read; rerun {self.step} for it "
            "(delete the file and run that step again)"
        )

    def dumps(self, data: dict[str, Any]) -> str:
        """The record as JSON text with the format version; fails on a missing field (a bug in the writer)."""
        missing = [field for field in self.fields if field not in data]
        if missing:
            raise ValueError(f"{self.kind} record lacks the field(s) {missing}")
        return json.dumps({VERSION_FIELD: FORMAT_VERSION, **data}, indent=2) + "\n"

    def loads(self, text: str, where: str | os.PathLike) -> dict[str, Any]:
        """The record in JSON ``text`` (read from ``where``), its version and fields checked; the
        fields as written (the version, once checked, is left out)."""
        try:
            data = json.loads(text)
        except ValueError as err:
            raise self._rerun(str(where), f"is not valid JSON ({err})") from err
        problem = self._problem(data)
        if problem:
            raise self._rerun(str(where), problem)
        return {key: value for key, value in data.items() if key != VERSION_FIELD}

    def write(self, path: str | os.PathLike, data: dict[str, Any]) -> None:
        """Write the record to ``path`` atomically."""
        text = self.dumps(data)
        with atomic_path(path) as tmp:
            tmp.write_text(text)

    def read(self, path: str | os.PathLike) -> dict[str, Any]:
        """Read the record at ``path`` (as :meth:`loads`); a missing file also names the step that writes it."""
        path = Path(path)
        if not path.is_file():
            raise NcsnError(f"{self.kind} {path} does not exist; run {self.step} first")
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as err:
            raise self._rerun(str(path), f"cannot be read ({err})") from err
        return self.loads(text, path)


# the sample-quality fields of a score, the final metrics and `ncsn fidelity`, named once: the IS, and FID, clean-fid's
# FID, KID and precision/recall as ncsn.metrics.fidelity.compare gives them (one builder: ncsn.metrics.fidelity.quality);
# an interval of `intervals` is keyed by its field's name
INCEPTION_SCORE = "inception_score"
FID = "fid"
FID_CLEANFID = "fid_cleanfid"
KID = "kid"
PRECISION = "precision"
RECALL = "recall"
QUALITY = (INCEPTION_SCORE, FID, FID_CLEANFID, KID, PRECISION, RECALL)

PREPARED_DATA = Record(
    "prepared data set description (meta.json)",
    "rule prepare (`python -m ncsn prepare`)",
    ("name", "source", "counts", "shape", "labelled", "settings", "content_sha256"),
)
EXTRACTOR_ACCURACY = Record(
    "classifier extractor accuracy record",
    "rule train_extractor (`python -m ncsn train-extractor`)",
    ("test_accuracy", "test_recognisable", "num_test", "settings", "model"),
)
REFERENCE_STATS = Record(
    "reference statistics description (the meta of refstats .npz)",
    "rule ref_stats (`python -m ncsn ref-stats`)",
    ("data", "num_images", "image_shape", "extractor", INCEPTION_SCORE),
)
RUN = Record(
    "training run record (run.json)",
    "rule train (`python -m ncsn train`)",
    ("iterations", "settings", "sigmas", "parameters", "seed", "device", "it_per_s", "sessions", "checkpoints"),
)
HELDOUT_LOSS = Record(
    "held-out loss record",
    "rule heldout_loss (`python -m ncsn heldout-loss`)",
    ("checkpoint", "iteration", "ema", "heldout_loss", "per_level", "num_images", "settings", "data"),
)
CANDIDATES = Record(
    "candidate checkpoints record (candidates.json)",
    "rule rank_checkpoints (`python -m ncsn select --candidates`)",
    ("k", "iterations", "losses"),
)
SCORE = Record(
    "checkpoint score",
    "rule score or sweep_cell (`python -m ncsn score`)",
    ("checkpoint", "iteration", *QUALITY, "intervals", "num_samples", "extractor", "reference", "sampling", "samples"),
)
SELECTION = Record(
    "checkpoint selection (selection.json)",
    "rule select or given_checkpoint (`python -m ncsn select`)",
    (
        "criterion",
        "checkpoint",
        "iteration",
        FID,
        FID_CLEANFID,
        "num_samples",
        "num_candidates",
        "fid_interval",
        "selection_stability",
    ),
)
SAMPLE_SHARD = Record(
    "sample shard description (the meta of a shard .npz)",
    "rule sample (`python -m ncsn sample`)",
    ("num_samples", "shard", "num_shards", "start", "stop", "seed", "stream", "sampling", "device", "seconds"),
)
METRICS = Record(
    "final metrics record (metrics.json)",
    "rule evaluate (`python -m ncsn evaluate`)",
    (
        *QUALITY,
        "fid_infinity",
        "intervals",
        "recognisable",
        "recognisable_real",
        "num_samples",
        "extractor",
        "reference",
        "samples",
    ),
)
FIDELITY = Record(
    "fidelity metrics record",
    "`python -m ncsn fidelity --out`",
    (*QUALITY, "num_samples", "input1", "input2"),
)
NEIGHBOURS = Record(
    "nearest-neighbour summary",
    "rule neighbours (`python -m ncsn neighbours`)",
    ("num_queries", "k", "train_images", "extractor", "pixel_nearest_distance", "feature_nearest_distance"),
)
TOY_SSM_NOISE = Record(
    "SSM noise toy summary", "rule toy_ssm_noise (`python -m ncsn toy ssm-noise`)", ("noise_variance", "iterations")
)
TOY_SCORES = Record("score field toy summary", "rule toy_scores (`python -m ncsn toy scores`)", ("iterations",))
TOY_MODE_FRACTIONS = Record(
    "Langevin mode fractions", "rule toy_langevin_modes (`python -m ncsn toy langevin-modes`)", ("rows",)
)
TOY_DIVERGENCE = Record("eps sweep divergence", "rule toy_eps_sweep (`python -m ncsn toy eps-sweep`)", ("rows",))

KINDS = (
    PREPARED_DATA,
    EXTRACTOR_ACCURACY,
    REFERENCE_STATS,
    RUN,
    HELDOUT_LOSS,
    CANDIDATES,
    SCORE,
    SELECTION,
    SAMPLE_SHARD,
    METRICS,
    FIDELITY,
    NEIGHBOURS,
    TOY_SSM_NOISE,
    TOY_SCORES,
    TOY_MODE_FRACTIONS,
    TOY_DIVERGENCE,
)


def score_draw(score: dict[str, Any]) -> dict[str, Any]:
    """What identifies the samples a score was computed on: checkpoint, sample count, sampler
    settings, seed and stream, extractor and reference. Two scores with equal draws hold the same
    samples (``ncsn score --reuse`` copies one instead of drawing again)."""
    sampling = score["sampling"]
    draw = {
        "checkpoint": score["checkpoint"],
        "num_samples": score["num_samples"],
        "sampling": {key: sampling[key] for key in ("sampling", "seed", "stream")},
        "extractor": score["extractor"],
        "reference": score["reference"]["path"],
    }
    return json.loads(json.dumps(draw))  # as a file holds it: tuples become lists
