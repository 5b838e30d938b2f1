"""The results tables: our numbers beside the NCSN paper's and the [Re] report's (Markdown, CSV, LaTeX).

``results`` has one row per experiment (data set x schedule x architecture) built from the
workflow's ``selection.json`` and ``metrics.json``; ``timing`` has training it/s and seconds per
1000 samples from Snakemake ``benchmark:`` files. Reference rows are labelled by their source.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from ncsn.errors import NcsnError
from ncsn.io import atomic_path

OURS = "this run"
NCSN_PAPER = "NCSN paper (Song & Ermon 2019)"
RE_REPORT = "[Re] report (2020)"

RESULT_COLUMNS = [
    "source", "experiment", "dataset", "schedule", "architecture", "extractor",
    "selected_checkpoint", "selection_samples", "fid_selection",
    "final_samples", "is_mean", "is_std", "fid_torch_fidelity", "fid_clean_fid",
    "recognisable", "recognisable_real",
]
TIMING_COLUMNS = ["source", "experiment", "dataset", "device", "train_iterations", "train_it_per_s", "sample_count", "seconds_per_1000_samples"]

# Reference numbers typed in from the papers (NCSN Table 1; [Re] Sec. 5 and Table 1).
REFERENCE_RESULTS: list[dict[str, Any]] = [
    {"source": NCSN_PAPER, "dataset": "cifar10", "schedule": "geometric", "architecture": "refinenet",
     "extractor": "inception", "final_samples": 50000, "is_mean": 8.87, "is_std": 0.12, "fid_torch_fidelity": 25.32},
    {"source": RE_REPORT, "dataset": "cifar10", "schedule": "geometric", "architecture": "refinenet",
     "extractor": "inception", "selected_checkpoint": 120000, "selection_samples": 1000, "final_samples": 50000,
     "is_mean": 6.5, "is_std": 0.118, "fid_torch_fidelity": 33.0},
    {"source": RE_REPORT, "dataset": "celeba", "schedule": "geometric", "architecture": "refinenet",
     "extractor": "inception", "selected_checkpoint": 30000, "selection_samples": 1000, "final_samples": 50000,
     "is_mean": 3.4, "is_std": 0.0395, "fid_torch_fidelity": 81.5},
]
REFERENCE_TIMING: list[dict[str, Any]] = [
    {"source": RE_REPORT, "dataset": "mnist", "device": "P100", "train_it_per_s": 2.35, "sample_count": 1000, "seconds_per_1000_samples": 910.0},
    {"source": RE_REPORT, "dataset": "cifar10", "device": "V100", "train_it_per_s": 1.73, "sample_count": 1000, "seconds_per_1000_samples": 1398.0},
    {"source": RE_REPORT, "dataset": "celeba", "device": "V100", "train_it_per_s": 1.73, "sample_count": 1000, "seconds_per_1000_samples": 1398.0},
]

# decimals shown per column in the Markdown and LaTeX tables (CSV keeps full precision)
DECIMALS = {"fid_selection": 2, "is_mean": 2, "is_std": 3, "fid_torch_fidelity": 2, "fid_clean_fid": 2,
            "recognisable": 2, "recognisable_real": 2,
            "train_it_per_s": 2, "seconds_per_1000_samples": 1}


def _require(data: Mapping[str, Any], key: str, what: str) -> Any:
    if key not in data:
        raise NcsnError(f"{what} lacks the key {key!r} (has {sorted(data)}); re-run the step that writes it")
    return data[key]


def result_row(name: str, experiment: Mapping[str, Any], selection: Mapping[str, Any], metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Our row for one experiment from its config block, ``selection.json`` (``ncsn select``) and
    ``metrics.json`` (``ncsn evaluate``)."""
    what = f"metrics.json of {name!r}"
    inception = _require(metrics, "inception_score", what)
    extractor = _require(metrics, "extractor", what)
    return {
        "source": OURS,
        "experiment": name,
        "dataset": _require(experiment, "dataset", f"experiment {name!r}"),
        "schedule": _require(_require(experiment, "schedule", f"experiment {name!r}"), "kind", f"schedule of {name!r}"),
        "architecture": _require(_require(experiment, "model", f"experiment {name!r}"), "arch", f"model of {name!r}"),
        "extractor": extractor.get("kind", "?") if isinstance(extractor, Mapping) else str(extractor),
        "selected_checkpoint": _require(selection, "iteration", f"selection.json of {name!r}"),
        "selection_samples": selection.get("num_samples"),
        "fid_selection": selection.get("fid"),
        "final_samples": _require(metrics, "num_samples", what),
        "is_mean": _require(inception, "mean", f"inception_score in {what}"),
        "is_std": _require(inception, "std", f"inception_score in {what}"),
        "fid_torch_fidelity": _require(metrics, "fid", what),
        "fid_clean_fid": _require(metrics, "fid_cleanfid", what),
        # share of samples (and of real test images) the digits classifier is >= 90% sure of; None with Inception
        "recognisable": metrics.get("recognisable"),
        "recognisable_real": metrics.get("recognisable_real"),
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


def timing_row(
    name: str,
    experiment: Mapping[str, Any],
    train_benchmark: str | os.PathLike,
    sample_benchmarks: Iterable[str | os.PathLike],
    device: str,
) -> dict[str, Any]:
    """Training it/s and seconds per 1000 samples of one experiment from its benchmark files.

    The sampling benchmarks are the shards of the final evaluation sample; their seconds add up.
    """
    iterations = int(experiment["training"]["iterations"])
    samples = int(experiment["evaluation"]["num_samples"])
    train_s = benchmark_seconds(train_benchmark)
    sample_s = sum(benchmark_seconds(p) for p in sample_benchmarks)
    return {
        "source": OURS, "experiment": name, "dataset": experiment["dataset"], "device": device,
        "train_iterations": iterations, "train_it_per_s": iterations / train_s if train_s > 0 else math.nan,
        "sample_count": samples, "seconds_per_1000_samples": sample_s / samples * 1000.0,
    }


def results_table(rows: Iterable[Mapping[str, Any]], with_references: bool = True) -> pd.DataFrame:
    """Our rows followed by the papers' labelled reference rows, in :data:`RESULT_COLUMNS` order."""
    rows = list(rows) + (REFERENCE_RESULTS if with_references else [])
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def timing_table(rows: Iterable[Mapping[str, Any]], with_references: bool = True) -> pd.DataFrame:
    """Our timing rows followed by the [Re] report's Table 1, in :data:`TIMING_COLUMNS` order."""
    rows = list(rows) + (REFERENCE_TIMING if with_references else [])
    return pd.DataFrame(rows, columns=TIMING_COLUMNS)


def format_cell(column: str, value: Any) -> str:
    """Text of one cell for Markdown/LaTeX: fixed decimals per column, '-' for missing values."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "-"
    if column in DECIMALS:
        return f"{float(value):.{DECIMALS[column]}f}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def formatted(table: pd.DataFrame) -> list[list[str]]:
    return [[format_cell(c, v) for c, v in zip(table.columns, row)] for row in table.itertuples(index=False)]


def to_markdown(table: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cells) + " |" for cells in formatted(table)]
    return "\n".join(lines) + "\n"


_TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(table: pd.DataFrame) -> str:
    """A booktabs ``tabular`` (no float wrapper, so papers can \\input it)."""
    lines = [r"\begin{tabular}{" + "l" * len(table.columns) + "}", r"\toprule",
             " & ".join(tex_escape(c) for c in table.columns) + r" \\", r"\midrule"]
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
