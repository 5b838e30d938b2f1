"""Run the benchmarks and write their results.

Each ``benchmarks/bench_<name>.py`` defines ``run() -> list[dict]``: one row per measurement,
with at least ``benchmark``, ``case``, ``metric``, ``value`` and ``unit``. Rows are written to
``benchmarks/results/<name>.json``; ``benchmarks/results/all.csv`` is then rebuilt from every
benchmark's latest JSON, so running some benchmarks keeps the others' rows.

    python -m benchmarks            # every benchmark
    python -m benchmarks core train # only these
    python -m benchmarks gpu [...]  # the GPU check (benchmarks/gpu.py; not part of "every")
"""

from __future__ import annotations

import csv
import importlib
import json
import platform
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "platform": platform.platform(),
    }


def main(names: list[str]) -> int:
    if names[:1] == ["gpu"]:
        from benchmarks.gpu import main as gpu_check

        return gpu_check(names[1:])
    names = names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {available()}", file=sys.stderr)
        return 2
    RESULTS.mkdir(exist_ok=True)
    for name in names:
        started = time.time()
        rows = importlib.import_module(f"benchmarks.bench_{name}").run()
        info = {"machine": machine(), "seconds": round(time.time() - started, 1), "rows": rows}
        (RESULTS / f"{name}.json").write_text(json.dumps(info, indent=2) + "\n")
        for row in rows:
            print(f"{name:10s} {row['case']:40s} {row['metric']:28s} {row['value']:>12.4g} {row['unit']}")
    write_all_csv(RESULTS)
    return 0


def write_all_csv(results: Path) -> None:
    """``all.csv``: the rows of every benchmark's latest ``<name>.json`` in ``results``, in name order."""
    rows = []
    for name in available():
        path = results / f"{name}.json"
        if path.is_file():
            rows += json.loads(path.read_text())["rows"]
    fields = sorted({key for row in rows for key in row})
    with open(results / "all.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
