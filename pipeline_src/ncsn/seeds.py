"""Seeds as an axis of the workflow: every experiment runs ``seeds`` times with independent seeds.

A run is one experiment trained and sampled with one seed (seeds ``seed``, ``seed + 1``, ...).
:func:`run_name` is the one place a run's name (and so every artifact path of it) gets its seed:
the run of the config's ``seed`` keeps the experiment's name, so a single-seed config's paths do
not change and adding seeds reuses that run; the others are ``EXPERIMENT_seedN``.
:func:`expand_seeds` turns a checked config's experiments into runs, each block carrying its
``seed`` and ``seed_of`` (the experiment it repeats), which the workflow's settings helpers and
the report read. Torch-free (the workflow imports it while planning).
"""

from __future__ import annotations

import copy
from typing import Any

from ncsn.errors import NcsnError

SEED_SUFFIX = "_seed"


def seed_values(config: dict[str, Any]) -> list[int]:
    """The seeds of every experiment of a filled config: ``seed``, ``seed + 1``, ... (``seeds`` of them)."""
    return [config["seed"] + i for i in range(config["seeds"])]


def run_name(experiment: str, seed: int, base_seed: int) -> str:
    """The name (folder, wildcard, table row) of ``experiment`` run with ``seed``."""
    return experiment if seed == base_seed else f"{experiment}{SEED_SUFFIX}{seed}"


def expand_seeds(config: dict[str, Any]) -> dict[str, Any]:
    """A filled config whose ``experiments`` are its runs, each with ``seed`` and ``seed_of``.

    Idempotent (an expanded config is returned unchanged); a run name that collides with an
    experiment's name is an error naming both.
    """
    if all("seed_of" in exp for exp in config["experiments"].values()):
        return config
    runs: dict[str, Any] = {}
    for name, exp in config["experiments"].items():
        for seed in seed_values(config):
            run = run_name(name, seed, config["seed"])
            if run in runs or (run != name and run in config["experiments"]):
                raise NcsnError(
                    f"experiment {name} with seed {seed} is named {run}, which is also an experiment's name; "
                    f"rename that experiment (names ending in {SEED_SUFFIX}N are the seeds' runs)"
                )
            runs[run] = {**copy.deepcopy(exp), "seed": seed, "seed_of": name}
    return {**config, "experiments": runs}


def runs_of(experiments: dict[str, Any]) -> dict[str, list[str]]:
    """Experiment name -> its runs' names, in seed order, of an expanded experiments block."""
    out: dict[str, list[str]] = {}
    for run, exp in experiments.items():
        out.setdefault(exp.get("seed_of", run), []).append(run)
    return out


def workflow_config(raw: dict[str, Any]) -> dict[str, Any]:
    """The config the workflow plans with: checked and filled by the schema, experiments expanded
    into runs. One definition for the Snakefile and ``ncsn estimate``, so both count every seed."""
    from ncsn.settings import check_config

    return expand_seeds(check_config(raw))
