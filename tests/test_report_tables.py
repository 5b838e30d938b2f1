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
           "recognisable": 0.8633, "recognisable_real": 0.9712}


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


def test_recognisable_is_shown_for_the_digits_extractor_and_empty_for_inception(tmp_path):
    inception = {**METRICS, "extractor": {"kind": "inception"}, "recognisable": None, "recognisable_real": None}
    rows = [result_row("digits_geometric", EXPERIMENT, SELECTION, METRICS), result_row("cifar", EXPERIMENT, SELECTION, inception)]
    md, csv, _ = write_tables(results_table(rows, with_references=False), tmp_path / "results")
    header, digits_row, inception_row = md_cells(md.read_text())
    columns = [header.index("recognisable"), header.index("recognisable_real")]
    assert [digits_row[c] for c in columns] == ["0.86", "0.97"]
    assert [inception_row[c] for c in columns] == ["-", "-"]
    assert pd.read_csv(csv)["recognisable"].isna().tolist() == [False, True]


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
