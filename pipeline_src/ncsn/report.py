"""The results tables: our numbers beside the NCSN paper's and the [Re] report's (Markdown, CSV, LaTeX).

``results`` has one row per run (experiment x seed; data set x schedule x architecture) built from
the workflow's ``selection.json`` and ``metrics.json`` (runs of the [Re] report's network labelled
"[Re] as run, regenerated"), then the papers' rows and the other models of
the NCSN paper's Table 1 as it quotes them; ``timing`` has data preparation seconds, training it/s,
seconds per 1000 samples and the wall time of sampling 1, 100 and 1000 images ([Re] Table 1) from
Snakemake ``benchmark:`` files. Reference rows are labelled by their source.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ncsn.errors import NcsnError
from ncsn.io import atomic_path
from ncsn.metrics.bootstrap import bias_corrected_interval

OURS = "this run"
NCSN_PAPER = "NCSN paper (Song & Ermon 2019)"
RE_REPORT = "[Re] report (2020), as quoted"
RE_REGENERATED = "[Re] as run, regenerated (this run)"  # our rows of its network (config/re_report.yaml)
QUOTED = "quoted in NCSN paper Table 1"

# result column -> the key of its bootstrap interval in metrics.json's ``intervals`` (selection.json's for
# fid_selection): a metrics field's own name, ``kid_mean`` the mean of the ``kid`` field. The CSV has
# ``{column}_low`` and ``{column}_high``, Markdown/LaTeX show "v [low, high]"
INTERVALS = {
    "fid_selection": "fid",
    "fid": "fid",
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
    "selection_change_rate",
    "final_samples",
    "is_mean",
    "is_std",
    "fid",
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

# Reference numbers typed in from the papers (NCSN Table 1; [Re] Sec. 5 and Table 1).
REFERENCE_RESULTS: list[dict[str, Any]] = [
    {
        "source": NCSN_PAPER,
        "dataset": "cifar10",
        "schedule": "geometric",
        "architecture": "refinenet",
        "extractor": "inception",
        "final_samples": 50000,
        "is_mean": 8.87,
        "is_std": 0.12,
        "fid": 25.32,
    },
    {
        "source": RE_REPORT,
        "dataset": "cifar10",
        "schedule": "geometric",
        "architecture": "refinenet",
        "extractor": "inception",
        "selected_checkpoint": 120000,
        "selection_samples": 1000,
        "final_samples": 50000,
        "is_mean": 6.5,
        "is_std": 0.118,
        "fid": 33.0,
    },
    {
        "source": RE_REPORT,
        "dataset": "celeba",
        "schedule": "geometric",
        "architecture": "refinenet",
        "extractor": "inception",
        "selected_checkpoint": 30000,
        "selection_samples": 1000,
        "final_samples": 50000,
        "is_mean": 3.4,
        "is_std": 0.0395,
        "fid": 81.5,
    },
]
# The other models of NCSN paper Table 1 (CIFAR-10), as the paper quotes them from their own papers.
_QUOTED_ROWS = [  # (model [reference number in the NCSN paper], conditional, IS mean, IS std, FID)
    ("PixelCNN [59]", False, 4.60, None, 65.93),
    ("PixelIQN [42]", False, 5.29, None, 49.46),
    ("EBM [12]", False, 6.02, None, 40.58),
    ("WGAN-GP [18]", False, 7.86, 0.07, 36.4),
    ("MoLM [45]", False, 7.90, 0.10, 18.9),
    ("SNGAN [36]", False, 8.22, 0.05, 21.7),
    ("ProgressiveGAN [25]", False, 8.80, 0.05, None),
    ("EBM [12]", True, 8.30, None, 37.9),
    ("SNGAN [36]", True, 8.60, 0.08, 25.5),
    ("BigGAN [6]", True, 9.22, None, 14.73),
]
QUOTED_RESULTS: list[dict[str, Any]] = [
    {
        "source": QUOTED,
        "experiment": f"{model}, {'conditional' if conditional else 'unconditional'}",
        "dataset": "cifar10",
        "is_mean": is_mean,
        "is_std": is_std,
        "fid": fid,
    }
    for model, conditional, is_mean, is_std, fid in _QUOTED_ROWS
]
REFERENCE_TIMING: list[dict[str, Any]] = [  # [Re] Table 1; its data time is the download
    {
        "source": RE_REPORT,
        "dataset": "mnist",
        "device": "P100",
        "prepare_seconds": 28.7,
        "train_it_per_s": 2.35,
        "sample_count": 1000,
        "seconds_per_1000_samples": 910.0,
        "sampling_1_s": 19.0,
        "sampling_100_s": 112.0,
        "sampling_1000_s": 910.0,
    },
    {
        "source": RE_REPORT,
        "dataset": "cifar10",
        "device": "V100",
        "prepare_seconds": 50.4,
        "train_it_per_s": 1.73,
        "sample_count": 1000,
        "seconds_per_1000_samples": 1398.0,
        "sampling_1_s": 23.0,
        "sampling_100_s": 158.0,
        "sampling_1000_s": 1398.0,
    },
    {
        "source": RE_REPORT,
        "dataset": "celeba",
        "device": "V100",
        "prepare_seconds": 715.4,
        "train_it_per_s": 1.73,
        "sample_count": 1000,
        "seconds_per_1000_samples": 1398.0,
        "sampling_1_s": 23.0,
        "sampling_100_s": 158.0,
        "sampling_1000_s": 1398.0,
    },
]

# decimals shown per column in the Markdown and LaTeX tables (CSV keeps full precision)
DECIMALS = {
    "fid_selection": 2,
    "selection_change_rate": 2,
    "is_mean": 2,
    "is_std": 3,
    "fid": 2,
    "fid_cleanfid": 2,
    "kid_mean": 4,
    "kid_std": 4,
    "precision": 3,
    "recall": 3,
    "recognisable": 2,
    "recognisable_real": 2,
    "extractor_accuracy": 4,
    "train_it_per_s": 2,
    "seconds_per_1000_samples": 1,
    "prepare_seconds": 1,
}
SECONDS_DECIMALS = 1  # every sampling_{n}_s column


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
    inception, extractor = metrics["inception_score"], metrics["extractor"]
    intervals = metrics["intervals"] or {}
    bounds = {
        f"{column}_{end}": (intervals.get(key) or [None, None])[i]
        for column, key in INTERVALS.items()
        if column != "fid_selection"
        for i, end in enumerate(("low", "high"))
    }
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
        "selection_change_rate": (selection["selection_noise"] or {}).get("change_rate"),
        "dataset": _require(experiment, "dataset", f"experiment {name!r}"),
        "schedule": _require(_require(experiment, "schedule", f"experiment {name!r}"), "kind", f"schedule of {name!r}"),
        "architecture": _require(_require(experiment, "model", f"experiment {name!r}"), "arch", f"model of {name!r}"),
        "extractor": extractor.get("kind", "?") if isinstance(extractor, Mapping) else str(extractor),
        "selected_checkpoint": selection["iteration"],
        "selection_samples": selection["num_samples"],
        "fid_selection": selection["fid"],
        "final_samples": metrics["num_samples"],
        "is_mean": inception["mean"],
        "is_std": inception["std"],
        "fid": metrics["fid"],
        "fid_cleanfid": metrics["fid_cleanfid"],
        # KID and precision/recall: None (no reference features) stays empty
        "kid_mean": (metrics["kid"] or {}).get("mean"),
        "kid_std": (metrics["kid"] or {}).get("std"),
        "precision": metrics["precision"],
        "recall": metrics["recall"],
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


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def format_cell(column: str, value: Any) -> str:
    """Text of one cell for Markdown/LaTeX: fixed decimals per column, '-' for missing values."""
    if _missing(value):
        return "-"
    if column in DECIMALS or (column.startswith("sampling_") and column.endswith("_s")):
        return f"{float(value):.{DECIMALS.get(column, SECONDS_DECIMALS)}f}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def is_bound(column: str, columns: Iterable[str]) -> bool:
    """Whether ``column`` is the ``_low``/``_high`` end of another column's interval (shown inside that cell)."""
    stem, _, end = column.rpartition("_")
    return end in ("low", "high") and stem in set(columns)


def shown_columns(table: pd.DataFrame) -> list[str]:
    """The columns Markdown and LaTeX show: all but the interval ends."""
    return [c for c in table.columns if not is_bound(c, table.columns)]


def formatted(table: pd.DataFrame) -> list[list[str]]:
    """Cells of the shown columns; a value with an interval reads "v [low, high]" (CSV: three columns)."""
    rows = []
    for record in table.to_dict("records"):
        cells = []
        for column in shown_columns(table):
            cell = format_cell(column, record[column])
            low, high = record.get(f"{column}_low"), record.get(f"{column}_high")
            if cell != "-" and not _missing(low) and not _missing(high):
                cell += f" [{format_cell(column, low)}, {format_cell(column, high)}]"
            cells.append(cell)
        rows.append(cells)
    return rows


def to_markdown(table: pd.DataFrame) -> str:
    columns = shown_columns(table)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cells) + " |" for cells in formatted(table)]
    return "\n".join(lines) + "\n"


_TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(table: pd.DataFrame) -> str:
    """A booktabs ``tabular`` (no float wrapper, so papers can \\input it)."""
    columns = shown_columns(table)
    lines = [
        r"\begin{tabular}{" + "l" * len(columns) + "}",
        r"\toprule",
        " & ".join(tex_escape(c) for c in columns) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(tex_escape(c) for c in cells) + r" \\" for cells in formatted(table)]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def write_tables(table: pd.DataFrame, stem: str | os.PathLike) -> list[Path]:
    """Write ``stem.md``, ``stem.csv`` and ``stem.tex`` atomically; return their paths."""
    stem = Path(stem)
    paths = []
    for suffix, text in ((".md", to_markdown(table)), (".csv", table.to_csv(index=False)), (".tex", to_latex(table))):
        path = stem.with_suffix(suffix)
        with atomic_path(path) as tmp:
            tmp.write_text(text)
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------- seeds


SEED_COLUMNS = [
    "experiment",
    "dataset",
    "schedule",
    "seeds",
    "fid_mean",
    "fid_std",
    "fid_cleanfid_mean",
    "fid_cleanfid_std",
    "is_mean",
    "precision",
    "recall",
    "selection_change_rate",
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
    "fid_a",
    "fid_b",
    "difference",
    "difference_low",
    "difference_high",
    "method",
    "resolved",
    "lower_fid",
]
DECIMALS.update(
    {name: 2 for name in ("fid_mean", "fid_std", "fid_cleanfid_mean", "fid_cleanfid_std", "fid_a", "fid_b")}
)
DECIMALS["difference"] = 2


def mean_interval(values: Iterable[float], confidence: float) -> list[float]:
    """Student-t interval of the mean of independent runs (at least 2)."""
    from scipy import stats

    x = np.asarray(list(values), dtype=np.float64)
    half = stats.t.ppf((1 + confidence) / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return [float(x.mean() - half), float(x.mean() + half)]


def welch_interval(a: Iterable[float], b: Iterable[float], confidence: float) -> list[float]:
    """Welch's interval of mean(a) - mean(b) (unequal variances; at least 2 values each)."""
    from scipy import stats

    a, b = np.asarray(list(a), dtype=np.float64), np.asarray(list(b), dtype=np.float64)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if va + vb > 0 else np.inf
    half = stats.t.ppf((1 + confidence) / 2, df) * math.sqrt(va + vb)
    diff = a.mean() - b.mean()
    return [float(diff - half), float(diff + half)]


def _by_experiment(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row.get("seed_of") or row["experiment"], []).append(row)
    return groups


def _mean(rows: list[Mapping[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if not _missing(r.get(key))]
    return float(np.mean(values)) if values else None


def seed_summary(rows: Iterable[Mapping[str, Any]], confidence: float) -> pd.DataFrame:
    """One row per experiment over its seeds: mean and std of both FIDs, the t interval of the mean
    (one seed: that run's bootstrap interval, which covers sampling noise only)."""
    out = []
    for name, runs in _by_experiment(rows).items():
        row: dict[str, Any] = {
            "experiment": name,
            "dataset": runs[0]["dataset"],
            "schedule": runs[0]["schedule"],
            "seeds": len(runs),
            "is_mean": _mean(runs, "is_mean"),
            "precision": _mean(runs, "precision"),
            "recall": _mean(runs, "recall"),
            "selection_change_rate": _mean(runs, "selection_change_rate"),
        }
        for column in ("fid", "fid_cleanfid"):
            values = [r[column] for r in runs]
            row[f"{column}_mean"] = float(np.mean(values))
            if len(runs) > 1:
                row[f"{column}_std"] = float(np.std(values, ddof=1))
                row[f"{column}_mean_low"], row[f"{column}_mean_high"] = mean_interval(values, confidence)
            else:
                row[f"{column}_mean_low"], row[f"{column}_mean_high"] = (
                    runs[0][f"{column}_low"],
                    runs[0][f"{column}_high"],
                )
        row["interval"] = f"t over {len(runs)} seeds" if len(runs) > 1 else "bootstrap of the one run"
        out.append(row)
    return pd.DataFrame(out, columns=SEED_COLUMNS)


def fid_comparisons(rows: Iterable[Mapping[str, Any]], confidence: float) -> pd.DataFrame:
    """Every pair of experiments on the same data set: FID difference (a - b), its interval and whether it
    excludes 0. Two seeds or more each: Welch's interval over seeds (training and sampling noise); one
    seed: the bootstrap replicates' difference (sampling noise only)."""
    groups = _by_experiment(rows)
    names = list(groups)
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            ra, rb = groups[a], groups[b]
            if ra[0]["dataset"] != rb[0]["dataset"]:
                continue
            fa = [r["fid"] for r in ra]
            fb = [r["fid"] for r in rb]
            interval, method = [None, None], "not resolvable (no seeds or replicates)"
            if len(fa) > 1 and len(fb) > 1:
                interval, method = welch_interval(fa, fb, confidence), f"Welch t over {len(fa)} and {len(fb)} seeds"
            elif ra[0].get("fid_replicates") and rb[0].get("fid_replicates"):
                count = min(len(ra[0]["fid_replicates"]), len(rb[0]["fid_replicates"]))
                diff = np.subtract(ra[0]["fid_replicates"][:count], rb[0]["fid_replicates"][:count])
                interval = bias_corrected_interval(fa[0] - fb[0], diff, confidence)
                method = "bootstrap of one run each (sampling noise only)"
            difference = float(np.mean(fa) - np.mean(fb))
            resolved = interval[0] is not None and (interval[0] > 0 or interval[1] < 0)
            out.append(
                {
                    "dataset": ra[0]["dataset"],
                    "experiment_a": a,
                    "experiment_b": b,
                    "fid_a": float(np.mean(fa)),
                    "fid_b": float(np.mean(fb)),
                    "difference": difference,
                    "difference_low": interval[0],
                    "difference_high": interval[1],
                    "method": method,
                    "resolved": f"yes ({confidence:.0%})" if resolved else f"no ({confidence:.0%})",
                    "lower_fid": (a if difference < 0 else b) if resolved else "unresolved",
                }
            )
    return pd.DataFrame(out, columns=COMPARISON_COLUMNS)
