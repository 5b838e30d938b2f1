"""Lint and format gates: ruff (pyproject.toml's settings), snakefmt and ``snakemake --lint``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PYTHON_TREES = ["pipeline_src", "tests", "benchmarks"]


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_lint_passes():
    result = run(str(BIN / "ruff"), "check", *PYTHON_TREES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_leaves_the_code_unchanged():
    result = run(str(BIN / "ruff"), "format", "--check", *PYTHON_TREES)
    assert result.returncode == 0, "run `ruff format pipeline_src tests benchmarks`:\n" + result.stdout + result.stderr


def test_workflow_files_are_snakefmt_formatted():
    result = run(str(BIN / "snakefmt"), "--check", "Snakefile", "workflow")
    assert result.returncode == 0, result.stdout + result.stderr


# The jobs' software is the environment running Snakemake (installed from requirements-lock.txt);
# there is deliberately no container or per-rule conda env (docs/development.md says why), so
# this one lint is expected on every rule and every other lint fails the test.
NO_CONTAINER_LINT = "Specify a conda environment or container for each rule."


def test_snakemake_lint_finds_nothing_but_the_absent_container(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "pipeline_src"), os.environ.get("PYTHONPATH")])),
    }
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "--lint"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    output = result.stdout + result.stderr
    titles = set(re.findall(r"^    \* (.+?):$", output, flags=re.MULTILINE))
    assert result.returncode in (0, 1) and "Lints for" in output, output  # the parser found the lints
    assert titles == {NO_CONTAINER_LINT}, output
