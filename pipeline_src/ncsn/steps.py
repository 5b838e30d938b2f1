"""The workflow's steps: one row per Snakemake rule with where it runs, its priority and its cost class.

The one table of per-rule facts. The Snakefile makes the ``local`` rules local (they run in the
Snakemake process, on a cluster's submit host, never as submitted jobs); the rule files take their
``priority:`` from :data:`PRIORITY`; the cost model (:mod:`ncsn.costs`) gives the ``assumed`` rules
their minutes and the ``negligible`` ones nothing, and has a function for each ``counted`` rule;
config/README.md's steps table is :func:`steps_table` (``python -m ncsn.settings config/README.md``
rewrites it). tests/test_docs_names.py holds this table to the rules the workflow defines. A rule
missing here runs submitted, at priority 0, and is listed by the estimate as not costed.
Torch-free: the Snakefile imports it while it parses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

CostClass = Literal["counted", "assumed", "negligible"]


@dataclass(frozen=True)
class Rule:
    """One rule's facts. ``local``: runs in the Snakemake process (downloads that need the network, seconds
    of CPU that would otherwise queue for a node). ``priority``: the order in which jobs take free cores
    (higher first). ``cost``: ``counted`` (a cost function in :mod:`ncsn.costs` counts its work), ``assumed``
    (``minutes`` per job, generous: CPU work and small samplings the count does not model) or ``negligible``
    (seconds of CPU)."""

    name: str
    cost: CostClass
    local: bool = False
    priority: int = 0
    minutes: int = 0


@dataclass(frozen=True)
class Step:
    """A row of config/README.md's steps table: its rules, what they do and what one job is per."""

    rules: tuple[Rule, ...]
    does: str
    per: str


# The priorities: the data and the trainings, then each experiment's chain to its final metrics, the DAG's
# longest path; the figures, toys and the sweep come after and fill the cores at the end, instead of one
# long sampling job running alone there (docs/performance.md, "The default run's time").
STEPS: tuple[Step, ...] = (
    Step(
        (Rule("fetch_weights", "negligible", local=True),),
        "an Inception weights file with `download: true`, fetched from its URL and kept only with the published "
        "SHA-256 (`ncsn fetch`; the submit host needs the network)",
        "weights file",
    ),
    Step(
        (Rule("supply_missing_weights", "negligible", local=True),),
        "a dry run's stand-in for an absent Inception weights file, so that the jobs reading it are planned "
        "(a real run stops before it)",
        "weights file",
    ),
    Step(
        (Rule("prepare", "counted", local=True, priority=30),),
        "data set -> cached uint8 train/test arrays",
        "data set",
    ),
    Step(
        (
            Rule("train_extractor", "assumed", priority=20, minutes=10),
            Rule("ref_stats", "counted", priority=20),
        ),
        "the classifier extractor (trained on its labelled data set); feature statistics of the training split",
        "extractor, data set",
    ),
    Step(
        (Rule("train", "counted", priority=30),),
        "score network training, resumable, checkpoints every `snapshot_freq`",
        "experiment",
    ),
    Step(
        (
            Rule("import_official", "assumed", minutes=10),
            Rule("given_checkpoint", "negligible", local=True),
        ),
        "an experiment with a `checkpoint` block: the official checkpoint converted, or the given one used, "
        "instead of training",
        "experiment",
    ),
    Step(
        (Rule("heldout_loss", "counted", priority=20),),
        "DSM loss of one checkpoint on fixed held-out test images (`selection.heldout`)",
        "checkpoint",
    ),
    Step(
        (Rule("rank_checkpoints", "counted", local=True),),
        "the `k` checkpoints with the lowest held-out loss (`selection.criterion: loss_topk`)",
        "experiment",
    ),
    Step(
        (Rule("score", "counted", priority=20),),
        "FID, IS, KID, precision/recall of one checkpoint on `selection.num_samples` samples",
        "checkpoint",
    ),
    Step(
        (Rule("select", "negligible", local=True, priority=20),),
        "the best checkpoint by FID, the last one, or the best FID of the `loss_topk` candidates",
        "experiment",
    ),
    Step(
        (Rule("sample", "counted", priority=20),),
        "final samples of the selected checkpoint, in `evaluation.shards` shards",
        "shard",
    ),
    Step(
        (Rule("evaluate", "counted", priority=10),),
        "IS, FID (torch-fidelity and clean-fid), KID, precision/recall",
        "experiment",
    ),
    Step(
        (Rule("neighbours", "assumed", minutes=30),),
        "nearest neighbours of the final samples in pixel and feature space",
        "experiment",
    ),
    Step(
        (
            Rule("figure_samples", "negligible", local=True),
            Rule("figure_intermediate", "assumed", minutes=20),
            Rule("figure_inpainting", "assumed", minutes=20),
            Rule("figure_loss", "negligible", local=True),
            Rule("figure_fid_vs_checkpoint", "negligible", local=True),
            Rule("figure_sweep", "negligible", local=True),
        ),
        "the papers' figures",
        "figure",
    ),
    Step(
        (Rule("sweep_cell", "counted"),),
        "one cell of the step-size sweep (`figures.sweep`)",
        "cell",
    ),
    Step(
        (
            Rule("toy_ssm_noise", "assumed", minutes=60),
            Rule("toy_scores", "assumed", minutes=30),
            Rule("toy_langevin_modes", "assumed", minutes=20),
            Rule("toy_eps_sweep", "assumed", minutes=20),
        ),
        "the toy experiments (NCSN Fig. 1-3, [Re] Fig. 11)",
        "toy experiment",
    ),
    Step(
        (Rule("sample_timing", "counted"),),
        "a timed sampling job per experiment and image count (`report.sample_timing`, [Re] Table 1)",
        "experiment, count",
    ),
    Step(
        (Rule("report_tables", "negligible", local=True),),
        "the results and timing tables (Markdown, CSV, LaTeX)",
        "run",
    ),
    Step(
        (Rule("all", "negligible", local=True),),
        "the default target: every output the config asks for",
        "run",
    ),
)
RULES: dict[str, Rule] = {rule.name: rule for step in STEPS for rule in step.rules}
PRIORITY: dict[str, int] = {name: rule.priority for name, rule in RULES.items() if rule.priority}


def local_rules(defined: Iterable[str]) -> list[str]:
    """The local rules among ``defined`` (the rules a parsed workflow has: some exist only for some configs)."""
    return [name for name in defined if name in RULES and RULES[name].local]


def steps_table() -> str:
    """config/README.md's steps table: one row per rule with its facts; a step's text is on its first rule's row."""
    lines = ["| rule | what it does | per | runs | priority | cost |", "|---|---|---|---|---|---|"]
    for step in STEPS:
        for index, rule in enumerate(step.rules):
            cells = [
                f"`{rule.name}`",
                step.does if index == 0 else "",
                step.per,
                "local" if rule.local else "submitted",
                str(rule.priority),
                f"{rule.minutes} min, assumed" if rule.cost == "assumed" else rule.cost,
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
