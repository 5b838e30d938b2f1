"""The results and timing tables: our rows beside the papers', identical content in md/csv/tex."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from ncsn.errors import NcsnError
from ncsn.report import (
    NCSN_PAPER, OURS, RE_REPORT, benchmark_seconds, result_row, results_table, timing_row, timing_table, write_tables,
)

EXPERIMENT = {
    "dataset": "digits", "model": {"arch": "refinenet"}, "schedule": {"kind": "geometric"},
    "training": {"iterations": 300}, "evaluation": {"num_samples": 500},
}
SELECTION = {"checkpoint": "ckpt_200.pt", "iteration": 200, "fid": 12.3456, "num_samples": 100}
# the keys `ncsn evaluate` writes (metrics.json) and `ncsn select` writes (selection.json)
METRICS = {"extractor": {"kind": "digits", "model": "results/extractors/digits/model.pt"}, "num_samples": 500,
           "inception_score": {"mean": 7.123, "std": 0.0456}, "fid": 4.5678, "fid_cleanfid": 4.5679,
           "kid": {"mean": 0.01234, "std": 0.00056, "subset_size": 500, "subsets": 100}, "precision": 0.75, "recall": 0.5}


def md_cells(text: str) -> list[list[str]]:
    lines = [l for l in text.strip().splitlines() if not l.startswith("|---")]
    return [[c.strip() for c in l.strip().strip("|").split("|")] for l in lines]


def tex_cells(text: str) -> list[list[str]]:
    rows = [l for l in text.splitlines() if l.endswith(r"\\")]
    return [[re.sub(r"\\([_&%$#{}])", r"\1", c.strip()) for c in re.split(r"(?<!\\)&", l[:-2])] for l in rows]


def test_tables_agree_across_formats(tmp_path):
    table = results_table([result_row("digits_geometric", EXPERIMENT, SELECTION, METRICS)])
    md, csv, tex = write_tables(table, tmp_path / "results")
    assert [p.name for p in (md, csv, tex)] == ["results.md", "results.csv", "results.tex"]
    back = pd.read_csv(csv)
    assert list(back.columns) == list(table.columns)
    assert list(back["source"]) == [OURS, NCSN_PAPER, RE_REPORT, RE_REPORT]
    assert back.loc[0, "fid_torch_fidelity"] == pytest.approx(4.5678)
    assert back.loc[1, "is_mean"] == pytest.approx(8.87) and back.loc[1, "fid_torch_fidelity"] == pytest.approx(25.32)
    assert back.loc[3, "dataset"] == "celeba" and back.loc[3, "fid_torch_fidelity"] == pytest.approx(81.5)
    md_rows, tex_rows = md_cells(md.read_text()), tex_cells(tex.read_text())
    assert md_rows == tex_rows, "Markdown and LaTeX show different cells"
    assert md_rows[0] == list(table.columns)
    # every shown number is the CSV value rounded
    header = md_rows[0]
    for r, cells in enumerate(md_rows[1:]):
        for column, cell in zip(header, cells):
            value = back.loc[r, column]
            if isinstance(value, float) and math.isnan(value):
                assert cell == "-"
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                assert float(cell) == pytest.approx(float(value), abs=0.051), (column, cell, value)
            else:
                assert cell == str(value)
    assert md_rows[1][header.index("fid_selection")] == "12.35"


def test_kid_and_precision_recall_columns_stay_empty_when_missing_never_zero(tmp_path):
    row = result_row("x", EXPERIMENT, SELECTION, METRICS)
    assert (row["kid_mean"], row["kid_std"], row["precision"], row["recall"]) == (0.01234, 0.00056, 0.75, 0.5)
    without = {**METRICS, "kid": None, "precision": None, "recall": None}
    older = {k: v for k, v in METRICS.items() if k not in ("kid", "precision", "recall")}
    table = results_table([result_row("a", EXPERIMENT, SELECTION, without), result_row("b", EXPERIMENT, SELECTION, older)])
    md, csv, _ = write_tables(table, tmp_path / "results")
    back = pd.read_csv(csv)
    for column in ("kid_mean", "kid_std", "precision", "recall"):
        assert back[column].isna().all()
    header, first = md_cells(md.read_text())[:2]
    assert [first[header.index(c)] for c in ("kid_mean", "precision", "recall")] == ["-", "-", "-"]


def test_result_row_names_missing_metric():
    with pytest.raises(NcsnError, match="fid_cleanfid"):
        result_row("x", EXPERIMENT, SELECTION, {k: v for k, v in METRICS.items() if k != "fid_cleanfid"})


def write_benchmark(path, seconds):
    path.write_text("s\th:m:s\tmax_rss\n" + f"{seconds}\t0:00:{seconds}\t10.0\n")
    return path


def test_timing_from_benchmark_files(tmp_path):
    train = write_benchmark(tmp_path / "train.tsv", 60.0)
    shards = [write_benchmark(tmp_path / f"s{k}.tsv", 10.0) for k in range(2)]
    row = timing_row("digits_geometric", EXPERIMENT, train, shards, device="cpu")
    assert row["train_it_per_s"] == pytest.approx(300 / 60.0)
    assert row["seconds_per_1000_samples"] == pytest.approx(20.0 / 500 * 1000)
    table = timing_table([row])
    assert list(table["source"]) == [OURS, RE_REPORT, RE_REPORT, RE_REPORT]
    assert table.loc[1, "seconds_per_1000_samples"] == 910.0
    md, _, tex = write_tables(table, tmp_path / "timing")
    assert md_cells(md.read_text()) == tex_cells(tex.read_text())


def test_benchmark_file_errors(tmp_path):
    with pytest.raises(NcsnError, match="missing"):
        benchmark_seconds(tmp_path / "nope.tsv")
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\n1\t2\n")
    with pytest.raises(NcsnError, match="benchmark file"):
        benchmark_seconds(bad)
