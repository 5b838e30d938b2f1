"""ncsn.steps is the one table of per-rule facts: every rule has its row, and the parsed workflow, the cost
model and config/README.md's steps table all say what the row says."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
import yaml

from ncsn.costs import COSTS, JobCost
from ncsn.settings import with_steps_table
from ncsn.steps import PRIORITY, RULES

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = [ROOT / "Snakefile", *sorted((ROOT / "workflow").rglob("*.smk"))]
# paper.yaml's Inception files are absent here: the dry run's stand-in rule, or with download the fetching rule
DOWNLOAD = {"extractors": {"inception": {"kind": "inception", "download": True}}}


def defined_rules() -> set[str]:
    """Every rule and checkpoint the workflow's files define, those inside an ``if`` block included."""
    text = "\n".join(path.read_text() for path in WORKFLOW_FILES)
    return set(re.findall(r"^\s*(?:rule|checkpoint)\s+(\w+)\s*:", text, re.M))


def parsed_workflow(configfiles: list[Path]):
    """The workflow as Snakemake parses it for these config files (a dry run's planning in a scratch folder)."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, Quietness, ResourceSettings

    with tempfile.TemporaryDirectory(prefix="ncsn-steps-") as scratch:
        output = OutputSettings(dryrun=True, quiet={Quietness.ALL}, enable_file_logging=False)
        with SnakemakeApi(output) as api:
            workflow = api.workflow(
                ResourceSettings(cores=1),
                ConfigSettings(configfiles=configfiles),
                snakefile=ROOT / "Snakefile",
                workdir=Path(scratch),
            )
            workflow.dag(DAGSettings())
            return workflow._workflow


def test_every_rule_of_the_workflow_has_one_row_and_every_row_a_rule():
    assert sorted(defined_rules() ^ set(RULES)) == []


@pytest.mark.parametrize("overlay", [None, DOWNLOAD], ids=["paper", "paper-download"])
def test_the_parsed_workflow_takes_where_each_rule_runs_and_its_priority_from_the_table(overlay, tmp_path):
    configfiles = [ROOT / "config" / "paper.yaml"]
    if overlay:
        configfiles.append(tmp_path / "overlay.yaml")
        configfiles[-1].write_text(yaml.safe_dump(overlay))
    workflow = parsed_workflow(configfiles)
    names = {rule.name for rule in workflow.rules}
    assert ("fetch_weights" if overlay else "supply_missing_weights") in names  # the rules defined in an `if`
    assert workflow._localrules == {name for name in names if RULES[name].local}
    assert {rule.name: rule.priority for rule in workflow.rules} == {name: RULES[name].priority for name in names}
    assert set(PRIORITY) <= names


def test_the_cost_model_gives_each_rule_its_cost_class():
    """Counted rules have their own function; assumed ones their minutes; negligible ones nothing."""
    assert set(COSTS) == set(RULES)
    for name, rule in RULES.items():
        if rule.cost == "counted":
            assert COSTS[name].__name__ != "<lambda>", name
        else:
            cost = COSTS[name](None, {})
            assert cost == JobCost(minutes=rule.minutes, note=f"{rule.minutes} min, assumed" if rule.minutes else "")


def test_config_readme_holds_the_current_steps_table():
    page = (ROOT / "config" / "README.md").read_text()
    assert with_steps_table(page) == page, "regenerate it: python -m ncsn.settings config/README.md"
    for name, rule in RULES.items():
        assert re.search(
            rf"^\| `{name}` \|.*\| {'local' if rule.local else 'submitted'} \| {rule.priority} \|", page, re.M
        )
