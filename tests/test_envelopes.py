"""Each command's ``--settings`` is its envelope (the schema's ``envelopes``), checked once, at the command line.

No command unpacks ``--settings`` by hand or checks settings itself (it reads ``args.envelope``, filled by
``ncsn.commands.options.check_settings``); no library function checks a block again but the two the
architecture page names; every command that takes ``--settings`` declares its envelope; and every rule of
the workflow builds (``ncsn.envelopes``, one builder a rule) an envelope its command accepts, for the jobs
the shipped configs plan.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import re
from pathlib import Path

import pytest
from helpers import ROOT

from ncsn.cli import COMMANDS
from ncsn.commands.estimate import read_config
from ncsn.envelopes import BUILDERS, command_of, envelope
from ncsn.seeds import workflow_config
from ncsn.settings import check_envelope, envelope_commands
from ncsn.workflow_plan import planned_jobs

PACKAGE = ROOT / "pipeline_src" / "ncsn"
THE_LAYER = PACKAGE / "commands" / "options.py"  # where --settings is checked, for every command
# Calls that check or fill settings: the command line's alone.
CHECKS = {"check_block", "check_envelope", "fill_defaults", "fill_extractor", "top_level"}
# Library modules that check or fill a block, and why it is not a second check of a command's envelope.
LIBRARY_CHECKS = {
    "ncsn.train": {"check_block"},  # the model block, once the data and schedule fill channels, size, classes
    "ncsn.metrics.extractors": {"check_block"},  # an extractor block with its weight files, from any source
    "ncsn.workload": {"fill_defaults"},  # the cost model's data set shape, no command's settings
}
SHIPPED_CONFIGS = [
    ["config/config.yaml"],
    ["config/paper.yaml", "config/re_report.yaml"],
    ["config/mnist_cpu.yaml"],
]


def called(node: ast.Call) -> str | None:
    return getattr(node.func, "id", getattr(node.func, "attr", None))


def is_envelope(node: ast.expr) -> bool:
    """``args.envelope`` or a part of it (``args.envelope["sampling"]``)."""
    while isinstance(node, ast.Subscript):
        node = node.value
    return isinstance(node, ast.Attribute) and node.attr == "envelope"


def by_hand(source: str) -> list[str]:
    """Where a command module reads ``--settings`` other than as its filled envelope, or checks settings itself."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ("settings", "given_settings"):
            if isinstance(node.value, ast.Name) and node.value.id == "args":
                problems.append(f"line {node.lineno}: args.{node.attr} (read args.envelope, the checked one)")
        if isinstance(node, ast.Call) and called(node) in CHECKS:
            problems.append(f"line {node.lineno}: {called(node)}() (the command line checks --settings, once)")
        if isinstance(node, ast.Call) and called(node) == "get" and is_envelope(node.func.value):
            problems.append(f"line {node.lineno}: .get() on the envelope (every key of it is filled)")
    return problems


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def library_checks() -> dict[str, set[str]]:
    """Module -> the settings checks it calls, for every module below the command line but ``ncsn.settings``."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        if name.startswith(("ncsn.settings", "ncsn.commands")):
            continue
        calls = {called(n) for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)} & CHECKS
        if calls:
            found[name] = calls
    return found


def test_no_command_unpacks_its_settings_by_hand():
    found = {
        path.name: problems
        for path in sorted((PACKAGE / "commands").glob("*.py"))
        if path != THE_LAYER and (problems := by_hand(path.read_text()))
    }
    assert not found, f"commands that read --settings by hand or check settings themselves: {found}"


def test_only_the_command_line_checks_an_envelope():
    layer = {called(n) for n in ast.walk(ast.parse(THE_LAYER.read_text())) if isinstance(n, ast.Call)} & CHECKS
    assert layer == {"check_envelope"}


def test_no_library_function_checks_a_filled_block_again():
    assert library_checks() == LIBRARY_CHECKS


@pytest.mark.parametrize(
    "source",
    [
        "def run(args):\n    opts = args.settings.get('sampling')\n",
        "def run(args):\n    seed = top_level(args.settings, 'seed')\n",
        "def run(args):\n    block = args.settings['selection']\n",
        "def run(args):\n    seed = args.envelope.get('seed', 0)\n",
        "def run(args):\n    eps = args.envelope['sampling'].get('eps')\n",
        "def run(args):\n    opts = check_block('sampling', args.envelope['sampling'])\n",
    ],
)
def test_the_scan_finds_planted_hand_unpacking(source):
    assert by_hand(source)


def test_the_scan_accepts_reading_the_envelope():
    assert not by_hand("def run(args):\n    seed, opts = args.envelope['seed'], args.envelope['sampling']\n")


def declared_envelopes(command: str) -> set[str]:
    """The envelopes a command's parser declares (one per kind for ``figure``, ``toy``); empty without --settings."""
    parser = argparse.ArgumentParser()
    importlib.import_module(f"ncsn.commands.{COMMANDS[command][0]}").add_arguments(parser)
    takes_settings = any("--settings" in action.option_strings for action in parser._actions)
    declared = parser.get_default("envelope_of")
    assert takes_settings == (declared is not None), command
    if declared is None:
        return set()
    kinds = next((a.choices for a in parser._actions if a.dest == "kind"), None)
    return {declared[0].format(kind=kind) for kind in kinds} if kinds else {declared[0].format()}


def test_every_command_taking_settings_declares_its_envelope_and_every_envelope_has_one():
    declared = {name: declared_envelopes(name) for name in COMMANDS}
    assert set().union(*declared.values()) == set(envelope_commands())
    assert {name for name, envelopes in declared.items() if envelopes} >= {"sample", "score", "train", "prepare"}


def rule_blocks() -> dict[str, str]:
    """Rule name -> its text, from every rule file."""
    blocks = {}
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        parts = re.split(r"^(?:rule|checkpoint) (\w+):\n", path.read_text(), flags=re.M)
        blocks |= dict(zip(parts[1::2], parts[2::2]))
    return blocks


def test_every_rule_passing_settings_has_one_builder_and_calls_its_command():
    rules = {name: text for name, text in rule_blocks().items() if "--settings" in text}
    assert set(rules) == set(BUILDERS)
    for name, text in rules.items():
        assert f'settings=settings_of("{name}")' in text, name
        assert f"python -m ncsn {command_of(name)} " in text, name


@pytest.mark.parametrize("configs", SHIPPED_CONFIGS, ids=lambda files: "+".join(Path(f).stem for f in files))
def test_every_planned_job_gets_an_envelope_its_command_accepts(configs):
    raw = read_config(*(ROOT / path for path in configs))
    config = workflow_config(raw)
    checked = 0
    for job in planned_jobs(raw, ROOT / "Snakefile"):
        if job.rule in BUILDERS:
            built = envelope(job.rule, config, job.wildcards)
            check_envelope(command_of(job.rule), built, f"{job.rule} {job.wildcards}")
            checked += 1
    assert checked
