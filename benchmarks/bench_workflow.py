"""The default workflow's time budget: per-job and per-stage times of a finished run, from its benchmark files.

Reads the Snakemake ``benchmark:`` TSVs of a run (``results/benchmarks/**.tsv`` under the run's
folder: ``NCSN_RUN_DIR``, default the repository root, i.e. after ``make demo``) and records each
job's wall and CPU seconds, their sums per stage (the first folder under ``benchmarks/``), and the
run's span: from the first job's start (file time minus its wall seconds) to the last job's end.
The span is Snakemake's elapsed time less its start-up; the default's budget is 15 minutes on
2 cores (issue 17). The training speed of each run (``run.json``'s it/s) is recorded beside it:
on a shared VM it says how fast the machine was, so two runs' spans can be compared. A run
without benchmark files is skipped with a note, not measured.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd

from ncsn.records import RUN

BUDGET_S = 15 * 60  # the whole default workflow on 2 cores (make demo)
ROOT = Path(__file__).resolve().parent.parent


def job_times(run_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per benchmark file: ``job`` (path under benchmarks/, no suffix), ``stage``, ``wall_s``, ``cpu_s``, ``end``."""
    folder = Path(run_dir) / "results" / "benchmarks"
    rows = []
    for path in sorted(folder.rglob("*.tsv")):
        table = pd.read_csv(path, sep="\t")
        job = path.relative_to(folder).with_suffix("").as_posix()
        rows.append(
            {
                "job": job,
                "stage": job.split("/")[0],
                "wall_s": float(table["s"].iloc[-1]),
                "cpu_s": float(table["cpu_time"].iloc[-1]),
                "end": path.stat().st_mtime,
            }
        )
    return pd.DataFrame(rows, columns=["job", "stage", "wall_s", "cpu_s", "end"])


def training_speed_rows(run_dir: str | os.PathLike) -> list[dict]:
    """Training iterations per second of every published run (``results/runs/DATASET/EXPERIMENT/run.json``)."""
    rows = []
    for path in sorted((Path(run_dir) / "results" / "runs").glob("*/*/run.json")):
        record = RUN.read(path)
        if record.get("it_per_s"):
            case = "train speed " + path.parent.relative_to(path.parents[2]).as_posix()
            rows.append(
                {
                    "benchmark": "workflow",
                    "case": case,
                    "metric": "it_per_s",
                    "value": record["it_per_s"],
                    "unit": "it/s",
                }
            )
    return rows


def budget_rows(jobs: pd.DataFrame) -> list[dict]:
    """Benchmark rows: the run's span against the budget, job-time sums, per stage and per job."""
    span = float(jobs["end"].max() - (jobs["end"] - jobs["wall_s"]).min())
    rows = [
        {
            "case": "whole run",
            "metric": "span_s",
            "value": span,
            "unit": "s",
            "budget_s": BUDGET_S,
            "within_budget": span <= BUDGET_S,
        },
        {"case": "whole run", "metric": "jobs", "value": len(jobs), "unit": "jobs"},
        {"case": "whole run", "metric": "job_wall_sum_s", "value": float(jobs["wall_s"].sum()), "unit": "s"},
        {"case": "whole run", "metric": "job_cpu_sum_s", "value": float(jobs["cpu_s"].sum()), "unit": "s"},
    ]
    for stage, group in jobs.groupby("stage", sort=True):
        rows.append(
            {
                "case": f"stage {stage}",
                "metric": "wall_sum_s",
                "value": float(group["wall_s"].sum()),
                "unit": "s",
                "jobs": len(group),
            }
        )
        rows.append(
            {
                "case": f"stage {stage}",
                "metric": "cpu_sum_s",
                "value": float(group["cpu_s"].sum()),
                "unit": "s",
                "jobs": len(group),
            }
        )
    for job in jobs.itertuples():
        rows.append({"case": job.job, "metric": "wall_s", "value": job.wall_s, "unit": "s", "cpu_s": job.cpu_s})
    return [{"benchmark": "workflow", **row} for row in rows]


def run() -> list[dict]:
    run_dir = Path(os.environ.get("NCSN_RUN_DIR", ROOT))
    jobs = job_times(run_dir)
    if jobs.empty:
        print(
            f"workflow: no benchmark files under {run_dir}/results/benchmarks; run `make demo` (or set NCSN_RUN_DIR "
            "to a finished run's folder) first",
            file=sys.stderr,
        )
        return []
    rows = budget_rows(jobs) + training_speed_rows(run_dir)
    for row in rows:
        row["run_dir"] = str(run_dir)
    return rows
