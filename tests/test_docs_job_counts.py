"""The job counts the docs and the SLURM profile's comments state for `config/paper.yaml` are those of
its plan: Snakemake's own DAG (``ncsn.workflow_plan``), cross-checked against the selection rules
(``ncsn.settings.implied``), and the group submissions the profile's grouping makes of them."""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from ncsn.commands.estimate import load_config, read_config
from ncsn.settings.implied import published_iterations, scored_count
from ncsn.workflow_plan import planned_jobs

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "config" / "paper.yaml"
PROFILE = ROOT / "workflow" / "profiles" / "slurm" / "config.yaml"
# Where each count is written: (file, pattern whose groups are counts, the counts' names in order).
CLAIMS = [
    ("docs/running.md", r"the full plan \((\d+) jobs\)", ("total",)),
    ("docs/performance.md", r"\((\w+) experiments, (\d+) planned jobs\)", ("experiments", "total")),
    (
        "docs/running.md",
        r"(\d+) `score` jobs \((\d+) checkpoints x (\d+) experiments",
        ("score", "checkpoints", "scored"),
    ),
    (
        "docs/running.md",
        r"(\d+) `heldout_loss` jobs \((\d+) checkpoints x (\d+) experiments",
        ("heldout_loss", "checkpoints", "experiments"),
    ),
    ("docs/running.md", r"(\d+) submissions instead of (\d+)", ("submissions", "grouped")),
    (
        "workflow/profiles/slurm/config.yaml",
        r"(\d+) short `score` jobs \((\d+) checkpoints x (\d+) experiments\)",
        ("score", "checkpoints", "scored"),
    ),
    ("workflow/profiles/slurm/config.yaml", r"and (\d+) `heldout_loss` jobs", ("heldout_loss",)),
    ("workflow/profiles/slurm/config.yaml", r"(\d+) submissions instead of (\d+)", ("submissions", "grouped")),
]
WORDS = {"eight": 8}


def profile_grouping() -> tuple[set[str], int]:
    """The rules the SLURM profile puts in the group `score`, and how many of its jobs one submission runs."""
    profile = yaml.safe_load(PROFILE.read_text())
    rules = {rule for rule, group in (item.split("=") for item in profile["groups"]) if group == "score"}
    components = dict(item.split("=") for item in profile["group-components"])
    return rules, int(components["score"])


@pytest.fixture(scope="module")
def counts() -> dict[str, int]:
    """The counts from the plan; each score or held-out-loss job is a group component of its own (no
    job of the group depends on another), so a submission runs `group-components` of them."""
    jobs = Counter(rule for rule, _ in planned_jobs(read_config(PAPER), ROOT / "Snakefile"))
    grouped_rules, per_submission = profile_grouping()
    grouped = sum(jobs[rule] for rule in grouped_rules)
    experiments = load_config(PAPER)["experiments"]
    (checkpoints,) = {len(published_iterations(e["training"])) for e in experiments.values()}
    return {
        "total": sum(jobs.values()),
        "experiments": len(experiments),
        "score": jobs["score"],
        "heldout_loss": jobs["heldout_loss"],
        "checkpoints": checkpoints,
        "scored": sum(scored_count(e["selection"], checkpoints) > 0 for e in experiments.values()),
        "grouped": grouped,
        "submissions": math.ceil(grouped / per_submission),
    }


def test_the_plan_agrees_with_the_selection_rules(counts):
    """Independent of Snakemake: a score job per checkpoint of each FID-selected experiment, a held-out
    loss per checkpoint of every experiment."""
    assert counts["score"] == counts["scored"] * counts["checkpoints"]
    assert counts["heldout_loss"] == counts["experiments"] * counts["checkpoints"]
    assert profile_grouping()[0] == {"score", "heldout_loss"}


@pytest.mark.parametrize(("where", "pattern", "names"), CLAIMS, ids=lambda v: v if isinstance(v, str) else "")
def test_the_docs_state_the_job_counts_of_the_plan(counts, where, pattern, names):
    text = (ROOT / where).read_text()
    flat = re.sub(r"\s*\n\s*#?\s*", " ", text)  # a sentence over lines, of Markdown or of YAML comments
    found = re.findall(pattern, flat)
    assert found, f"{where} no longer says {pattern!r}: update CLAIMS with the sentence that states the count"
    for values in found:
        values = values if isinstance(values, tuple) else (values,)
        stated = {name: WORDS.get(value, value) for name, value in zip(names, values)}
        assert {name: int(value) for name, value in stated.items()} == {name: counts[name] for name in names}, where
