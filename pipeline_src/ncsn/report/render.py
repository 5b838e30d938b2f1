"""The report's tables as text: Markdown, LaTeX and CSV, written atomically side by side.

Markdown and LaTeX show fixed decimals per column (:data:`DECIMALS`; CSV keeps full precision) and
a value with an interval as "v [low, high]" (the CSV keeps ``{column}_low`` and ``{column}_high``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from ncsn.comparisons import missing
from ncsn.io import atomic_path

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
    # the seeds' and the comparisons' tables (ncsn.comparisons)
    "fid_mean": 2,
    "fid_std": 2,
    "fid_infinity_mean": 2,
    "fid_cleanfid_mean": 2,
    "fid_cleanfid_std": 2,
    "fid_a": 2,
    "fid_b": 2,
    "difference": 2,
    "p_value": 3,
    "p_holm": 3,
    "sign_test_p": 3,
    "sign_test_power": 2,
}
SECONDS_DECIMALS = 1  # every sampling_{n}_s column


def format_cell(column: str, value: Any) -> str:
    """Text of one cell for Markdown/LaTeX: fixed decimals per column, '-' for missing values."""
    if missing(value):
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
            if cell != "-" and not missing(low) and not missing(high):
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
