"""The results and timing tables: our rows beside the papers', identical content in md/csv/tex."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from ncsn import records
from ncsn.comparisons import (
    ONE_SEED,
    fid_comparisons,
    holm,
    mean_interval,
    seed_summary,
    seeds_needed,
    sign_test_power,
    welch_interval,
)
from ncsn.errors import NcsnError
from ncsn.report.published import NCSN_PAPER, PUBLISHED_FILE, QUOTED, RE_REPORT
from ncsn.report.render import write_tables
from ncsn.report.tables import (
    OURS,
    benchmark_seconds,
    result_notes,
    result_row,
    results_table,
    timing_row,
    timing_table,
)

EXPERIMENT = {
    "dataset": "digits",
    "model": {"arch": "refinenet"},
    "schedule": {"kind": "geometric"},
    "training": {"iterations": 300},
    "evaluation": {"num_samples": 500},
}
SELECTION = {
    "checkpoint": "ckpt_200.pt",
    "iteration": 200,
    "fid": 12.3456,
    "num_samples": 100,
    "fid_interval": None,
    "selection_stability": None,  # no half-sample replicates
}
# the keys `ncsn evaluate` writes (metrics.json) and `ncsn select` writes (selection.json)
METRICS = {
    "extractor": {"kind": "digits", "model": "results/extractors/digits/model.pt"},
    "num_samples": 500,
    "inception_score": {"mean": 7.123, "std": 0.0456},
    "fid": 4.5678,
    "fid_cleanfid": 4.5679,
    "kid": {"mean": 0.01234, "std": 0.00056, "subset_size": 500, "subsets": 100},
    "precision": 0.75,
    "recall": 0.5,
    "recognisable": 0.8633,
    "recognisable_real": 0.9712,
    "fid_infinity": {"value": 3.5, "interval": [2.5, 4.5], "bias_at_n": 1.0678},
    "intervals": {
        "fid": [3.9, 5.25],
        "fid_cleanfid": [3.91, 5.26],
        "kid": None,
        "precision": [0.7, 0.8],
        "recall": None,
    },
}


def md_cells(text: str) -> list[list[str]]:
    lines = [line for line in text.strip().splitlines() if line.startswith("|") and not line.startswith("|---")]
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]


def tex_cells(text: str) -> list[list[str]]:
    rows = [line for line in text.splitlines() if line.endswith(r"\\")]
    return [[re.sub(r"\\([_&%$#{}])", r"\1", c.strip()) for c in re.split(r"(?<!\\)&", line[:-2])] for line in rows]


def test_tables_agree_across_formats(tmp_path):
    table = results_table([result_row("digits_geometric", EXPERIMENT, SELECTION, METRICS)])
    md, csv, tex = write_tables(table, tmp_path / "results", result_notes(0.95))
    assert [p.name for p in (md, csv, tex)] == ["results.md", "results.csv", "results.tex"]
    back = pd.read_csv(csv)
    assert list(back.columns) == list(table.columns)
    assert list(back["source"]) == [OURS, NCSN_PAPER, RE_REPORT, RE_REPORT] + [QUOTED] * 10
    assert back.loc[0, "fid"] == pytest.approx(4.5678)
    assert back.loc[1, "is_mean"] == pytest.approx(8.87) and back.loc[1, "fid"] == pytest.approx(25.32)
    assert back.loc[3, "dataset"] == "celeba" and back.loc[3, "fid"] == pytest.approx(81.5)
    md_rows, tex_rows = md_cells(md.read_text()), tex_cells(tex.read_text())
    assert md_rows == tex_rows, "Markdown and LaTeX show different cells"
    # Markdown and LaTeX show the interval ends inside their value's cell: "v [low, high]"
    assert md_rows[0] == [c for c in table.columns if not c.endswith(("_low", "_high"))]
    # every shown number is the CSV value rounded
    header = md_rows[0]
    for r, cells in enumerate(md_rows[1:]):
        for column, cell in zip(header, cells):
            value = back.loc[r, column]
            if isinstance(value, float) and math.isnan(value):
                assert cell == "-"
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                shown = re.fullmatch(r"(\S+)(?: \[(\S+), (\S+)\])?", cell)
                assert float(shown[1]) == pytest.approx(float(value), abs=0.051), (column, cell, value)
                if shown[2] is not None:
                    ends = [back.loc[r, f"{column}_low"], back.loc[r, f"{column}_high"]]
                    assert [float(shown[2]), float(shown[3])] == pytest.approx(ends, abs=0.051)
            else:
                assert cell == str(value)
    assert md_rows[1][header.index("fid_selection")] == "12.35"
    assert md_rows[1][header.index("fid")] == "4.57 [3.90, 5.25]"
    assert md_rows[1][header.index("precision")] == "0.750 [0.700, 0.800]"
    assert md_rows[1][header.index("recall")] == "0.500", "no interval, no brackets"
    assert md_rows[1][header.index("fid_infinity")] == "3.50 [2.50, 4.50]"
    assert md_rows[1][header.index("fid_bias")] == "1.07"
    # each interval is named below the table (Markdown) and in its comments (LaTeX)
    assert "cover the sampling noise of the n images around the expected value at n (reference fixed)" in md.read_text()
    assert "E FID_n" in md.read_text() and "Chong & Forsyth 2020" in tex.read_text()


def test_kid_and_precision_recall_columns_stay_empty_when_missing_never_zero(tmp_path):
    row = result_row("x", EXPERIMENT, SELECTION, METRICS)
    assert (row["kid_mean"], row["kid_std"], row["precision"], row["recall"]) == (0.01234, 0.00056, 0.75, 0.5)
    without = {**METRICS, "kid": None, "precision": None, "recall": None}
    table = results_table([result_row("a", EXPERIMENT, SELECTION, without)])
    md, csv, _ = write_tables(table, tmp_path / "results")
    back = pd.read_csv(csv)
    for column in ("kid_mean", "kid_std", "precision", "recall"):
        assert back[column].isna().all()
    header, first = md_cells(md.read_text())[:2]
    assert [first[header.index(c)] for c in ("kid_mean", "precision", "recall")] == ["-", "-", "-"]


def test_an_evaluation_without_clean_fid_leaves_its_columns_empty_in_both_tables(tmp_path):
    """evaluation.cleanfid: false gives fid_cleanfid None (and no interval): '-' in the results and seeds tables."""
    intervals = {**METRICS.get("intervals", {}), "fid": [3.0, 5.0], "fid_cleanfid": None}
    without = {**METRICS, "fid_cleanfid": None, "intervals": intervals}
    rows = [result_row(name, {**EXPERIMENT, "seed": 0, "seed_of": name}, SELECTION, without) for name in ("a", "b")]
    md, csv, _ = write_tables(results_table(rows), tmp_path / "results")
    ours = pd.read_csv(csv).set_index("experiment").loc[["a", "b"]]  # beside the published rows
    assert ours["fid_cleanfid"].isna().all() and (ours["fid"] == METRICS["fid"]).all()
    header, *cells = md_cells(md.read_text())
    row = next(r for r in cells if r[header.index("experiment")] == "a")
    assert row[header.index("fid_cleanfid")] == "-"
    summary = seed_summary(rows, 0.95)
    assert summary["fid_cleanfid_mean"].isna().all() and summary["fid_mean"].notna().all()
    seeds_md, _, _ = write_tables(summary, tmp_path / "seeds")
    assert "fid_cleanfid_mean" in seeds_md.read_text()


def test_recognisable_is_shown_for_the_digits_extractor_and_empty_for_inception(tmp_path):
    inception = {**METRICS, "extractor": {"kind": "inception"}, "recognisable": None, "recognisable_real": None}
    rows = [
        result_row("digits_geometric", EXPERIMENT, SELECTION, METRICS),
        result_row("cifar", EXPERIMENT, SELECTION, inception),
    ]
    md, csv, _ = write_tables(results_table(rows, with_references=False), tmp_path / "results")
    header, digits_row, inception_row = md_cells(md.read_text())
    columns = [header.index("recognisable"), header.index("recognisable_real")]
    assert [digits_row[c] for c in columns] == ["0.86", "0.97"]
    assert [inception_row[c] for c in columns] == ["-", "-"]
    assert pd.read_csv(csv)["recognisable"].isna().tolist() == [False, True]


def test_a_metrics_record_without_a_field_names_it_and_the_step_to_rerun():
    """The report reads metrics.json through ncsn.records, which checks the fields result_row uses."""
    complete = {"format_version": 1, **dict.fromkeys(records.METRICS.fields), **METRICS}
    text = json.dumps({k: v for k, v in complete.items() if k != "fid_cleanfid"})
    with pytest.raises(NcsnError, match=r"m.json lacks the field\(s\) \['fid_cleanfid'\].*rerun rule evaluate"):
        records.METRICS.loads(text, "m.json")


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


def test_results_table_quotes_the_other_models_of_ncsn_table_1():
    table = results_table([]).set_index("experiment")
    quoted = table[table["source"] == QUOTED]
    assert len(quoted) == 10 and set(quoted["dataset"]) == {"cifar10"}
    # values as printed in NCSN paper Table 1 (CIFAR-10)
    assert quoted.loc["PixelCNN [59], unconditional", ["is_mean", "fid"]].tolist() == [4.60, 65.93]
    assert quoted.loc["WGAN-GP [18], unconditional", ["is_mean", "is_std", "fid"]].tolist() == [
        7.86,
        0.07,
        36.4,
    ]
    assert math.isnan(quoted.loc["ProgressiveGAN [25], unconditional", "fid"])
    assert quoted.loc["BigGAN [6], conditional", ["is_mean", "fid"]].tolist() == [9.22, 14.73]
    assert quoted.loc["SNGAN [36], conditional", "fid"] == 25.5
    assert quoted["selected_checkpoint"].isna().all()  # nothing of ours is mixed into a quoted row


def test_timing_has_data_preparation_and_timed_sampling_jobs(tmp_path):
    train = write_benchmark(tmp_path / "train.tsv", 60.0)
    prepare = write_benchmark(tmp_path / "prepare.tsv", 3.5)
    timed = {100: write_benchmark(tmp_path / "n100.tsv", 4.0), 1: write_benchmark(tmp_path / "n1.tsv", 2.0)}
    row = timing_row(
        "digits_geometric", EXPERIMENT, train, [train], device="cpu", prepare_benchmark=prepare, timed_samples=timed
    )
    assert row["prepare_seconds"] == 3.5 and row["sampling_1_s"] == 2.0 and row["sampling_100_s"] == 4.0
    table = timing_table([row])
    assert list(table.columns[-3:]) == ["sampling_1_s", "sampling_100_s", "sampling_1000_s"]
    assert math.isnan(table.loc[0, "sampling_1000_s"])  # not timed here
    re_mnist = table[(table["source"] == RE_REPORT) & (table["dataset"] == "mnist")].iloc[0]  # [Re] Table 1
    assert re_mnist[["prepare_seconds", "sampling_1_s", "sampling_100_s", "sampling_1000_s"]].tolist() == [
        28.7,
        19.0,
        112.0,
        910.0,
    ]
    md, _, tex = write_tables(table, tmp_path / "timing")
    assert md_cells(md.read_text()) == tex_cells(tex.read_text())
    assert md_cells(md.read_text())[1][-3:] == ["2.0", "4.0", "-"]


def test_benchmark_file_errors(tmp_path):
    with pytest.raises(NcsnError, match="missing"):
        benchmark_seconds(tmp_path / "nope.tsv")
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\n1\t2\n")
    with pytest.raises(NcsnError, match="benchmark file"):
        benchmark_seconds(bad)


def run_row(name, seed, fid, replicates=None, dataset="digits"):
    experiment = {**EXPERIMENT, "dataset": dataset, "seed": seed, "seed_of": name}
    metrics = {**METRICS, "fid": fid, "intervals": {"fid": [fid - 1, fid + 1], "fid_replicates": replicates}}
    return result_row(name if seed == 0 else f"{name}_seed{seed}", experiment, SELECTION, metrics)


def test_seed_summary_and_seed_paired_comparisons_against_scipy():
    from scipy import stats

    a, b, c = [30.0, 33.0, 31.5], [40.0, 47.0, 43.0], [31.0, 30.0, 33.5]
    rows = [run_row("geo", s, f) for s, f in enumerate(a)] + [run_row("lin", s, f) for s, f in enumerate(b)]
    rows += [run_row("other", s, f, dataset="cifar10") for s, f in enumerate(c)]
    summary = seed_summary(rows, 0.95).set_index("experiment")
    assert summary.loc["geo", "seeds"] == 3 and summary.loc["geo", "fid_mean"] == pytest.approx(31.5)
    assert summary.loc["geo", "fid_std"] == pytest.approx(1.5)
    expected = stats.t.interval(0.95, 2, loc=31.5, scale=stats.sem(a))
    assert [summary.loc["geo", "fid_mean_low"], summary.loc["geo", "fid_mean_high"]] == pytest.approx(expected)
    assert mean_interval(a, 0.95) == pytest.approx(expected)
    table = fid_comparisons(rows, 0.95)
    assert len(table) == 1, "only experiments on the same data set are compared"
    pair = table.iloc[0]
    paired = stats.ttest_rel(a, b)  # seeds 0, 1, 2 ran for both: paired by seed
    ci = paired.confidence_interval(0.95)
    assert [pair["difference_low"], pair["difference_high"]] == pytest.approx([ci.low, ci.high])
    assert pair["difference"] == pytest.approx(np.mean(a) - np.mean(b)) and pair["p_value"] == pytest.approx(
        paired.pvalue
    )
    assert pair["p_holm"] == pytest.approx(paired.pvalue)  # a family of one
    assert pair["method"] == "seed-paired t over 3 seeds" and pair["resolved"] == "yes (Holm, 95%)"
    assert pair["lower_fid"] == "geo"
    assert pair["sign_test_p"] == pytest.approx(0.25)  # 3 of 3: the smallest two-sided p at 3 seeds
    assert pair["sign_test_power"] == 0.0  # so it can never reject at 5%
    close = fid_comparisons(rows[:3] + [run_row("near", s, f) for s, f in enumerate(c)], 0.95).iloc[0]
    assert close["resolved"] == "no (Holm, 95%)" and close["lower_fid"] == "unresolved"


def test_unpaired_seeds_use_welch_and_the_family_is_holm_adjusted():
    from scipy import stats

    a, b, c = [30.0, 33.0, 31.5], [40.0, 47.0, 43.0], [36.0, 29.0, 44.0]
    rows = [run_row("geo", s, f) for s, f in enumerate(a)] + [run_row("lin", s + 3, f) for s, f in enumerate(b)]
    rows += [run_row("third", s + 6, f) for s, f in enumerate(c)]
    table = fid_comparisons(rows, 0.95).set_index(["experiment_a", "experiment_b"])
    welch = stats.ttest_ind(a, b, equal_var=False)
    pair = table.loc[("geo", "lin")]
    assert [pair["difference_low"], pair["difference_high"]] == pytest.approx(list(welch.confidence_interval(0.95)))
    assert welch_interval(a, b, 0.95)[1] == pytest.approx(welch.pvalue) and pair["method"].startswith("Welch")
    p = [stats.ttest_ind(x, y, equal_var=False).pvalue for x, y in ((a, b), (a, c), (b, c))]
    order = sorted(range(3), key=lambda i: p[i])  # Holm by hand: 3 p, 2 p, 1 p, running maximum
    by_hand = [0.0] * 3
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * p[i]))
        by_hand[i] = running
    assert table["p_holm"].tolist() == pytest.approx(by_hand)
    assert holm([0.01, None, 0.04, 0.03]) == pytest.approx([0.03, None, 0.06, 0.06])


def test_sign_test_power_and_seeds_needed_against_direct_sums():
    from scipy import stats

    # 6 seeds: the two-sided sign test rejects at 5% only at 0 or 6 wins (p = 0.03125)
    assert sign_test_power(6, 0.9, 0.05) == pytest.approx(0.9**6 + 0.1**6)
    assert sign_test_power(3, 0.99, 0.05) == 0.0
    k = seeds_needed(1.0, 0.05)  # effect mean/sd = 1: the paired t-test's power by the noncentral t

    def power(n):
        crit = stats.t.ppf(0.975, n - 1)
        return stats.nct.sf(crit, n - 1, np.sqrt(n)) + stats.nct.cdf(-crit, n - 1, np.sqrt(n))

    assert power(k) >= 0.8 > power(k - 1) and k == 10


def test_one_seed_compares_by_half_sample_replicates_and_gives_no_verdict(tmp_path):
    rows = [run_row("geo", 0, 30.0, [29.0, 30.0, 31.0, 30.5]), run_row("lin", 0, 40.0, [39.0, 41.0, 40.0, 40.5])]
    pair = fid_comparisons(rows, 0.95).iloc[0]
    assert pair["method"].startswith("half-sample") and pair["resolved"] == ONE_SEED
    assert pair["difference"] == -10.0 and pair["difference_high"] < 0 and pair["p_holm"] is None
    summary = seed_summary(rows, 0.95)
    assert summary.loc[0, "fid_mean_low"] == 29.0 and ONE_SEED in summary.loc[0, "interval"]
    md, _, _ = write_tables(summary, tmp_path / "seeds")
    assert "30.00 [29.00, 31.00]" in md.read_text()


def test_runs_of_the_re_network_are_labelled_as_re_regenerated():
    from ncsn.report.tables import RE_REGENERATED

    re_run = {**EXPERIMENT, "model": {"arch": "refinenet_re"}}
    assert result_row("cifar10_re", re_run, SELECTION, METRICS)["source"] == RE_REGENERATED
    assert result_row("x", EXPERIMENT, SELECTION, METRICS)["source"] == OURS


def test_every_published_number_names_its_source_and_reaches_the_tables():
    """published.yaml is the one place the papers' numbers are typed in: each row cites a table or section of
    the NCSN paper or the [Re] report, its source key has a label, and every number it holds is in a table."""
    data = yaml.safe_load(PUBLISHED_FILE.read_text())
    rows = {kind: data[kind] for kind in ("results", "quoted", "timing")}
    for kind, entries in rows.items():
        for row in entries:
            assert re.match(r"(NCSN paper|\[Re\]) ", row["cited"]), row
            assert row["source"] in data["sources"], row
    tables = {"results": results_table([]), "quoted": results_table([]), "timing": timing_table([])}
    for kind, entries in rows.items():
        for row in entries:
            shown = tables[kind][tables[kind]["source"] == data["sources"][row["source"]]]
            numbers = {k: v for k, v in row.items() if isinstance(v, (int, float))}
            assert any(all(line[k] == v for k, v in numbers.items()) for line in shown.to_dict("records")), row
