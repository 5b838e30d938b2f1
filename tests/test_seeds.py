"""Seeds as an axis: run names (ncsn.seeds) and the workflow's plan of a several-seed config."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from helpers import snakemake

from ncsn.errors import NcsnError
from ncsn.seeds import expand_seeds, run_name, runs_of
from ncsn.settings import check_config

ROOT = Path(__file__).resolve().parents[1]


def test_runs_are_named_once_and_carry_their_seed():
    config = check_config(yaml.safe_load((ROOT / "config/digits_seeds.yaml").read_text()))
    runs = expand_seeds(config)["experiments"]
    assert list(runs)[:3] == ["digits_geometric", "digits_geometric_seed1", "digits_geometric_seed2"]
    assert [runs[r]["seed"] for r in runs_of(runs)["digits_linear"]] == [0, 1, 2]
    assert {runs[r]["seed_of"] for r in runs_of(runs)["digits_baseline"]} == {"digits_baseline"}
    assert expand_seeds(expand_seeds(config)) == expand_seeds(config)  # idempotent
    assert run_name("x", 5, base_seed=5) == "x" and run_name("x", 6, base_seed=5) == "x_seed6"
    default = check_config(yaml.safe_load((ROOT / "config/config.yaml").read_text()))
    assert list(expand_seeds(default)["experiments"]) == list(default["experiments"])  # one seed: same names
    clash = {
        **config,
        "experiments": {**config["experiments"], "digits_linear_seed1": config["experiments"]["digits_linear"]},
    }
    with pytest.raises(NcsnError, match="digits_linear_seed1"):
        expand_seeds(clash)


def test_a_three_seed_config_trains_and_samples_every_run_with_its_own_seed(tmp_path):
    result = snakemake(tmp_path, ROOT / "config/digits_seeds.yaml", "-n", "-p")
    assert result.returncode == 0, result.stdout[-3000:]
    trains = re.findall(r"ncsn train .*--out-dir results/runs/digits/(\S+) --settings '([^']+)'", result.stdout)
    seeds = {run: json.loads(settings)["seed"] for run, settings in trains}
    assert seeds == {
        f"digits_{k}{s}": int(s[-1]) if s else 0
        for k in ("geometric", "linear", "baseline")
        for s in ("", "_seed1", "_seed2")
    }
    samples = re.findall(
        r"ncsn sample --selection results/selection/digits/(\S+)/selection.json .*--settings '([^']+)'", result.stdout
    )
    assert {run: json.loads(settings)["seed"] for run, settings in samples} == seeds
    assert "results/report/seeds.md" in result.stdout and "results/report/comparisons.md" in result.stdout
