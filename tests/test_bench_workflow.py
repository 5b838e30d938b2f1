"""The workflow-budget benchmark reads a run's Snakemake benchmark files into per-job, per-stage and whole-run times."""

from __future__ import annotations

import os

import pytest

from benchmarks.bench_workflow import BUDGET_S, budget_rows, job_times, run
from ncsn.records import RUN

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write_benchmark(path, wall: float, cpu: float, end: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{wall}\t0:00:00\t1\t1\t1\t1\t0\t0\t90\t{cpu}\n")
    os.utime(path, (end, end))


@pytest.fixture
def run_dir(tmp_path):
    bench = tmp_path / "results" / "benchmarks"
    # two cores: training 0-300 and 0-200, then the sample job 300-400 and a figure 380-390
    write_benchmark(bench / "train/digits/a.tsv", 300.0, 290.0, 1000.0 + 300)
    write_benchmark(bench / "train/digits/b.tsv", 200.0, 195.0, 1000.0 + 200)
    write_benchmark(bench / "sample/digits/a/shard_0_of_1.tsv", 100.0, 98.5, 1000.0 + 400)
    write_benchmark(bench / "figures/digits/a/samples.tsv", 10.0, 9.0, 1000.0 + 390)
    run = {field: None for field in RUN.fields}
    RUN.write(tmp_path / "results/runs/digits/a/run.json", {**run, "iterations": 1500, "it_per_s": 5.0})
    return tmp_path


def test_rows_give_the_span_and_the_job_time_per_stage(run_dir, monkeypatch):
    jobs = job_times(run_dir)
    assert sorted(jobs["stage"]) == ["figures", "sample", "train", "train"]
    rows = {(r["case"], r["metric"]): r for r in budget_rows(jobs)}
    span = rows[("whole run", "span_s")]
    assert span["value"] == pytest.approx(400.0) and span["within_budget"] and span["budget_s"] == BUDGET_S
    assert rows[("whole run", "job_wall_sum_s")]["value"] == pytest.approx(610.0)
    assert rows[("whole run", "job_cpu_sum_s")]["value"] == pytest.approx(592.5)
    assert (
        rows[("stage train", "cpu_sum_s")]["value"] == pytest.approx(485.0)
        and rows[("stage train", "cpu_sum_s")]["jobs"] == 2
    )
    assert rows[("sample/digits/a/shard_0_of_1", "wall_s")]["cpu_s"] == pytest.approx(98.5)
    monkeypatch.setenv("NCSN_RUN_DIR", str(run_dir))
    recorded = {(r["case"], r["metric"]): r for r in run()}
    assert recorded[("train speed digits/a", "it_per_s")]["value"] == 5.0  # the machine's speed, from run.json
    assert len(recorded) == len(rows) + 1


def test_a_run_over_budget_says_so_and_no_run_gives_no_rows(run_dir, tmp_path, monkeypatch, capsys):
    write_benchmark(run_dir / "results/benchmarks/report/report.tsv", 5.0, 4.0, 1000.0 + BUDGET_S + 10)
    span = next(r for r in budget_rows(job_times(run_dir)) if r["metric"] == "span_s")
    assert span["value"] == pytest.approx(BUDGET_S + 10) and not span["within_budget"]
    monkeypatch.setenv("NCSN_RUN_DIR", str(tmp_path / "nothing"))
    assert run() == []
    assert "make demo" in capsys.readouterr().err


def test_all_csv_keeps_the_rows_of_benchmarks_not_run_this_time(tmp_path):
    """all.csv is every benchmark's latest JSON together, not only the benchmarks of the last call."""
    import csv
    import json

    from benchmarks.__main__ import write_all_csv

    for name, value in (("core", 1.5), ("workflow", 669.0)):
        row = {"benchmark": name, "case": "c", "metric": "m", "value": value, "unit": "s"}
        (tmp_path / f"{name}.json").write_text(json.dumps({"rows": [row]}))
    (tmp_path / "gpu.json").write_text(json.dumps({"rows": [{"benchmark": "gpu"}]}))  # not a bench_*.py: left out
    write_all_csv(tmp_path)
    with open(tmp_path / "all.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["benchmark"], float(r["value"])) for r in rows] == [("core", 1.5), ("workflow", 669.0)]
