"""Our rows of the results and timing tables, from the workflow's records and benchmark files, beside the published ones.

``results`` has one row per run (experiment x seed; data set x schedule x architecture) built from
the workflow's ``selection.json`` and ``metrics.json`` (runs of the [Re] report's network labelled
"[Re] as run, regenerated"), then the papers' rows and the other models of the NCSN paper's Table 1
as it quotes them (:mod:`ncsn.report.published`); ``timing`` has data preparation seconds, training
it/s, seconds per 1000 samples and the wall time of sampling 1, 100 and 1000 images ([Re] Table 1)
from Snakemake ``benchmark:`` files. Rendering is :mod:`ncsn.report.render`; the statistics over
seeds are :mod:`ncsn.comparisons`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from ncsn.errors import NcsnError
from ncsn.metrics.selection import SELECTION_INSTABILITY
from ncsn.records import FID, FID_CLEANFID, INCEPTION_SCORE, KID, PRECISION, RECALL
from ncsn.report.published import QUOTED_RESULTS, REFERENCE_RESULTS, REFERENCE_TIMING

OURS = "this run"
RE_REGENERATED = "[Re] as run, regenerated (this run)"  # our rows of its network (config/re_report.yaml)

# result column -> the key of its interval in metrics.json's ``intervals`` (selection.json's for fid_selection;
# fid_infinity's own ``interval``): a metrics field's own name, ``kid_mean`` the mean of the ``kid`` field. The CSV
# has ``{column}_low`` and ``{column}_high``, Markdown/LaTeX show "v [low, high]"; :func:`result_notes` says what
# each covers
INTERVALS = {
    "fid_selection": "fid",
    "fid": "fid",
    "fid_infinity": "fid_infinity",
    "fid_cleanfid": "fid_cleanfid",
    "kid_mean": "kid",
    "precision": "precision",
    "recall": "recall",
    "recognisable": "recognisable",
}
RESULT_COLUMNS = [
    "source",
    "experiment",
    "dataset",
    "schedule",
    "architecture",
    "extractor",
    "seed",
    "selected_checkpoint",
    "selection_samples",
    "fid_selection",
    "selection_instability",
    "final_samples",
    "is_mean",
    "is_std",
    "fid",
    "fid_infinity",
    "fid_bias",
    "fid_cleanfid",
    "kid_mean",
    "kid_std",
    "precision",
    "recall",
    "recognisable",
    "recognisable_real",
    "extractor_accuracy",
]
RESULT_COLUMNS += [f"{column}_{end}" for column in INTERVALS for end in ("low", "high")]
TIMING_COLUMNS = [
    "source",
    "experiment",
    "dataset",
    "device",
    "prepare_seconds",
    "train_iterations",
    "train_it_per_s",
    "sample_count",
    "seconds_per_1000_samples",
]  # then one ``sampling_{n}_s`` column per timed sample count (:func:`sampling_column`)


def _require(data: Mapping[str, Any], key: str, what: str) -> Any:
    if key not in data:
        raise NcsnError(f"{what} lacks the key {key!r} (has {sorted(data)}); re-run the step that writes it")
    return data[key]


def result_row(
    name: str, experiment: Mapping[str, Any], selection: Mapping[str, Any], metrics: Mapping[str, Any]
) -> dict[str, Any]:
    """Our row for one experiment from its config block and its records ``selection.json`` (``ncsn select``)
    and ``metrics.json`` (``ncsn evaluate``), both read with :mod:`ncsn.records` (their fields checked):
    the metrics keep their field names, the selection's get a ``selection`` prefix."""
    inception, extractor = metrics[INCEPTION_SCORE], metrics["extractor"]
    intervals = metrics["intervals"] or {}
    fid_infinity = metrics["fid_infinity"] or {}
    bounds = {
        f"{column}_{end}": (intervals.get(key) or [None, None])[i]
        for column, key in INTERVALS.items()
        if column not in ("fid_selection", "fid_infinity")
        for i, end in enumerate(("low", "high"))
    }
    bounds["fid_infinity_low"], bounds["fid_infinity_high"] = fid_infinity.get("interval") or [None, None]
    selection_interval = selection["fid_interval"] or [None, None]
    model = _require(experiment, "model", f"experiment {name!r}")
    return {
        "source": RE_REGENERATED if model.get("arch") == "refinenet_re" else OURS,
        "experiment": name,
        "seed": experiment.get("seed"),
        "seed_of": experiment.get("seed_of", name),  # the experiment this run repeats (ncsn.seeds)
        "fid_replicates": intervals.get("fid_replicates"),
        **bounds,
        "fid_selection_low": selection_interval[0],
        "fid_selection_high": selection_interval[1],
        "selection_instability": (selection["selection_stability"] or {}).get("instability"),
        "dataset": _require(experiment, "dataset", f"experiment {name!r}"),
        "schedule": _require(_require(experiment, "schedule", f"experiment {name!r}"), "kind", f"schedule of {name!r}"),
        "architecture": _require(_require(experiment, "model", f"experiment {name!r}"), "arch", f"model of {name!r}"),
        "extractor": extractor.get("kind", "?") if isinstance(extractor, Mapping) else str(extractor),
        "selected_checkpoint": selection["iteration"],
        "selection_samples": selection["num_samples"],
        "fid_selection": selection[FID],
        "final_samples": metrics["num_samples"],
        "is_mean": inception["mean"],
        "is_std": inception["std"],
        "fid": metrics[FID],
        "fid_infinity": fid_infinity.get("value"),  # None below 4 images per feature dimension
        "fid_bias": fid_infinity.get("bias_at_n"),  # FID - FID∞: the sample-size bias of the reported FID
        "fid_cleanfid": metrics[FID_CLEANFID],
        # KID and precision/recall: None (no reference features) stays empty
        "kid_mean": (metrics[KID] or {}).get("mean"),
        "kid_std": (metrics[KID] or {}).get("std"),
        "precision": metrics[PRECISION],
        "recall": metrics[RECALL],
        # share of samples (and of real test images) the classifier extractor is >= 90% sure of; None with Inception
        "recognisable": metrics["recognisable"],
        "recognisable_real": metrics["recognisable_real"],
        "extractor_accuracy": extractor.get("test_accuracy") if isinstance(extractor, Mapping) else None,
    }


def benchmark_seconds(path: str | os.PathLike) -> float:
    """Wall-clock seconds recorded in a Snakemake ``benchmark:`` TSV (mean over its repeats)."""
    path = Path(path)
    if not path.is_file():
        raise NcsnError(f"benchmark file {path} is missing; run the workflow rule that writes it")
    table = pd.read_csv(path, sep="\t")
    if "s" not in table.columns or table.empty:
        raise NcsnError(f"{path} is not a Snakemake benchmark file (needs a column 's' and one row per run)")
    return float(table["s"].mean())


def sampling_column(count: int) -> str:
    """Column of the wall time of one sampling job of ``count`` images ([Re] Table 1: 1, 100, 1000)."""
    return f"sampling_{int(count)}_s"


def timing_row(
    name: str,
    experiment: Mapping[str, Any],
    train_benchmark: str | os.PathLike | None,
    sample_benchmarks: Iterable[str | os.PathLike],
    device: str,
    prepare_benchmark: str | os.PathLike | None = None,
    timed_samples: Mapping[int, str | os.PathLike] | None = None,
) -> dict[str, Any]:
    """Training it/s and seconds per 1000 samples of one experiment from its benchmark files.

    The sampling benchmarks are the shards of the final evaluation sample; their seconds add up.
    ``prepare_benchmark``: the data set's ``prepare`` job; ``timed_samples``: image count -> the
    benchmark of one job sampling that many images (each a ``sampling_{n}_s`` column).
    An experiment that evaluates a given checkpoint has no training benchmark: its training cells stay empty.
    """
    samples = int(experiment["evaluation"]["num_samples"])
    sample_s = sum(benchmark_seconds(p) for p in sample_benchmarks)
    iterations, it_per_s = None, None
    if train_benchmark is not None:
        iterations = int(experiment["training"]["iterations"])
        train_s = benchmark_seconds(train_benchmark)
        it_per_s = iterations / train_s if train_s > 0 else math.nan
    row = {
        "source": OURS,
        "experiment": name,
        "dataset": experiment["dataset"],
        "device": device,
        "prepare_seconds": benchmark_seconds(prepare_benchmark) if prepare_benchmark is not None else None,
        "train_iterations": iterations,
        "train_it_per_s": it_per_s,
        "sample_count": samples,
        "seconds_per_1000_samples": sample_s / samples * 1000.0,
    }
    for count, path in sorted((timed_samples or {}).items()):
        row[sampling_column(count)] = benchmark_seconds(path)
    return row


def results_table(rows: Iterable[Mapping[str, Any]], with_references: bool = True) -> pd.DataFrame:
    """Our rows, the papers' labelled reference rows, then the other models NCSN Table 1 quotes,
    in :data:`RESULT_COLUMNS` order."""
    rows = list(rows) + (REFERENCE_RESULTS + QUOTED_RESULTS if with_references else [])
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def timing_table(rows: Iterable[Mapping[str, Any]], with_references: bool = True) -> pd.DataFrame:
    """Our timing rows followed by the [Re] report's Table 1, in :data:`TIMING_COLUMNS` order and
    then one ``sampling_{n}_s`` column per image count any row has, smallest first."""
    rows = list(rows) + (REFERENCE_TIMING if with_references else [])
    counts = sorted(
        {int(key[len("sampling_") : -len("_s")]) for row in rows for key in row if key.startswith("sampling_")}
    )
    return pd.DataFrame(rows, columns=TIMING_COLUMNS + [sampling_column(n) for n in counts])


def result_notes(confidence: float) -> list[str]:
    """What each interval and index of the results table covers, by which method (docs/metrics.md)."""
    from ncsn.metrics import bootstrap, fid_infinity

    level = f"{confidence:.0%}"
    return [
        f"{level} intervals of fid, fid_cleanfid, kid_mean, precision, recall (final_samples images) and fid_selection "
        f"(selection_samples): {bootstrap.METHOD}. They cover the {bootstrap.SAMPLING_NOISE}: for FID the "
        "expected FID at that n (E FID_n), not the model's FID.",
        f"fid_infinity: {fid_infinity.METHOD}; covers {fid_infinity.COVERS}, ± z se. Empty below "
        f"{fid_infinity.MIN_IMAGES_PER_DIMENSION} images per feature dimension. fid_bias = fid - fid_infinity, "
        "the sample-size bias of fid.",
        "kid_mean: KID is unbiased (the small-sample comparison); its interval covers the population KID.",
        "recognisable: Wilson score interval of the share.",
        f"selection_instability: {SELECTION_INSTABILITY}",
    ]
