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

from ncsn.comparisons import holm, mean_interval, paired_test, seeds_needed, sign_test, sign_test_power, welch_interval
from ncsn.errors import NcsnError
from ncsn.io import atomic_path
from ncsn.metrics.bootstrap import recentred_interval
from ncsn.metrics.selection import SELECTION_INSTABILITY

OURS = "this run"
NCSN_PAPER = "NCSN paper (Song & Ermon 2019)"
RE_REPORT = "[Re] report (2020), as quoted"
RE_REGENERATED = "[Re] as run, regenerated (this run)"  # our rows of its network (config/re_report.yaml)
QUOTED = "quoted in NCSN paper Table 1"

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
    "selection_instability": 2,
    "is_mean": 2,
    "is_std": 3,
    "fid": 2,
    "fid_infinity": 2,
    "fid_bias": 2,
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
        "fid_selection": selection["fid"],
        "final_samples": metrics["num_samples"],
        "is_mean": inception["mean"],
        "is_std": inception["std"],
        "fid": metrics["fid"],
        "fid_infinity": fid_infinity.get("value"),  # None below 4 images per feature dimension
        "fid_bias": fid_infinity.get("bias_at_n"),  # FID - FID∞: the sample-size bias of the reported FID
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


def write_tables(table: pd.DataFrame, stem: str | os.PathLike, notes: Iterable[str] = ()) -> list[Path]:
    """Write ``stem.md``, ``stem.csv`` and ``stem.tex`` atomically; return their paths. ``notes`` (what the
    intervals cover) follow the Markdown table as a list and the LaTeX one as comments."""
    stem = Path(stem)
    notes = list(notes)
    md = to_markdown(table) + "".join(f"\n- {note}" for note in notes) + ("\n" if notes else "")
    tex = to_latex(table) + "".join(f"% {note}\n" for note in notes)
    paths = []
    for suffix, text in ((".md", md), (".csv", table.to_csv(index=False)), (".tex", tex)):
        path = stem.with_suffix(suffix)
        with atomic_path(path) as tmp:
            tmp.write_text(text)
        paths.append(path)
    return paths


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


# ----------------------------------------------------------------------------- seeds


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
DECIMALS.update(
    {
        name: 2
        for name in (
            "fid_mean",
            "fid_std",
            "fid_infinity_mean",
            "fid_cleanfid_mean",
            "fid_cleanfid_std",
            "fid_a",
            "fid_b",
        )
    }
)
DECIMALS.update(difference=2, p_value=3, p_holm=3, sign_test_p=3, sign_test_power=2)


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
