"""Claims the docs make about behaviour, checked against it: what each command's ``--settings`` holds, where
the blocks are checked, and what the workflow catalog's metadata says of the workflow."""

from __future__ import annotations

import ast
import json
import re
import shlex
from pathlib import Path

import yaml
from helpers import ROOT, snakemake

ARCHITECTURE = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
PACKAGE = ROOT / "pipeline_src" / "ncsn"
CATALOG = ROOT / ".snakemake-workflow-catalog.yml"
WORKFLOW_FILES = [ROOT / "Snakefile", *sorted((ROOT / "workflow").rglob("*.smk"))]


def documented_envelopes() -> dict[str, set[str] | None]:
    """Command -> the keys ARCHITECTURE.md says its ``--settings`` holds (None: a data set's block)."""
    section = ARCHITECTURE.split("| command | `--settings` holds |", 1)[1].split("\n\n", 1)[0]
    out: dict[str, set[str] | None] = {}
    for commands, holds in re.findall(r"^\| (`[^|]+`) \| ([^|]+) \|$", section, re.M):
        keys = None if "`datasets.NAME`" in holds else set(re.findall(r"`(\w+)`", holds.split(" (")[0]))
        out |= {command: keys for command in re.findall(r"`([\w -]+)`", commands)}
    return out


def printed_envelopes(output: str) -> dict[str, set[frozenset[str]]]:
    """Command (``figure KIND`` / ``toy KIND`` with their kind) -> the key sets of the ``--settings`` it got."""
    out: dict[str, set[frozenset[str]]] = {}
    for line in output.splitlines():
        if "python -m ncsn " not in line or "--settings" not in line:
            continue
        words = shlex.split(line[line.index("python -m ncsn ") :].split(" > ")[0])
        command = " ".join(words[3:5]) if words[3] in ("figure", "toy") else words[3]
        settings = json.loads(words[words.index("--settings") + 1])
        out.setdefault(command, set()).add(frozenset(settings))
    return out


def test_each_command_gets_the_settings_the_architecture_page_lists(tmp_path):
    result = snakemake(tmp_path, ROOT / "config" / "config.yaml", "-n", "-p")
    assert result.returncode == 0, result.stdout[-3000:]
    printed, documented = printed_envelopes(result.stdout), documented_envelopes()
    assert sorted(printed) == sorted(documented)
    for command, key_sets in printed.items():
        expected = documented[command]
        for keys in key_sets:
            assert keys == expected if expected is not None else "source" in keys, (command, sorted(keys))


def modules_calling(name: str) -> set[str]:
    """The library modules (dotted names) that call the function ``name``."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == name:
                parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
                found.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def test_blocks_are_checked_where_the_architecture_page_says():
    text = " ".join(ARCHITECTURE.split())
    paragraph = text.split("holds this list to the calls):", 1)[1].split("Functions below those", 1)[0]
    in_commands, in_library = paragraph.split("in the library for the others:", 1)
    commands = {name.replace("-", "_") for name in re.findall(r"`([\w-]+)`", in_commands) if name != "intervals"}
    library = set(re.findall(r"`(ncsn\.[\w.]+)`", in_library))
    calling = modules_calling("check_block")
    assert {m for m in calling if m.startswith("ncsn.commands.")} == {f"ncsn.commands.{c}" for c in commands}
    assert {m for m in calling if not m.startswith("ncsn.commands.")} == library


def test_the_catalog_metadata_says_what_the_workflow_does():
    """No conda or container directive (the jobs' software is the environment running Snakemake), report
    captions for `snakemake --report`, and the files its usage text names exist."""
    catalog = yaml.safe_load(CATALOG.read_text())
    stack = catalog["usage"]["software-stack-deployment"]
    workflow = "\n".join(path.read_text() for path in WORKFLOW_FILES)
    assert stack["conda"] == bool(re.search(r"^\s+conda:", workflow, re.M))
    assert stack["apptainer"] == stack["apptainer+conda"] == bool(re.search(r"^\s+container:", workflow, re.M))
    assert catalog["usage"]["report"] == ("report(" in workflow and any((ROOT / "workflow/report").glob("*.rst")))
    usage = catalog["usage"]["mandatory-flags"]
    for named in re.findall(r"(?:config|docs|workflow)/[\w./]+\w", usage["desc"] + usage["flags"]):
        assert (ROOT / named).exists(), named
    assert Path(ROOT / usage["flags"].split()[-1]).is_file()
