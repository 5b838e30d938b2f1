"""Claims the docs make about behaviour, checked against it: what each command's ``--settings`` holds (the
schema's envelopes, the table generated from them, the workflow's dry run), where the blocks are checked, and
what the workflow catalog's metadata says of the workflow."""

from __future__ import annotations

import ast
import json
import re
import shlex
from pathlib import Path

import yaml
from helpers import ROOT, snakemake

from ncsn.settings import block_of, definition, envelope_commands, envelope_definition, with_envelope_table

ARCHITECTURE = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
PACKAGE = ROOT / "pipeline_src" / "ncsn"
CATALOG = ROOT / ".snakemake-workflow-catalog.yml"
WORKFLOW_FILES = [ROOT / "Snakefile", *sorted((ROOT / "workflow").rglob("*.smk"))]


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


def test_the_envelope_table_is_the_schemas():
    assert with_envelope_table(ARCHITECTURE) == ARCHITECTURE, (
        "regenerate it: python -m ncsn.settings docs/ARCHITECTURE.md"
    )


def test_each_command_gets_every_key_of_its_envelope_and_no_other(tmp_path):
    """A dry run of the default config prints each command's --settings: its keys are the envelope's
    (the schema's, the table's); a block envelope (`prepare`, `select`) gets keys of its block."""
    result = snakemake(tmp_path, ROOT / "config" / "config.yaml", "-n", "-p")
    assert result.returncode == 0, result.stdout[-3000:]
    printed = printed_envelopes(result.stdout)
    assert set(printed) <= set(envelope_commands())
    for command, key_sets in printed.items():
        node = envelope_definition(command)
        keys = set(definition(block_of(node))["properties"]) if block_of(node) else set(node["properties"])
        for printed_keys in key_sets:
            assert printed_keys == keys if not block_of(node) else printed_keys <= keys, (command, sorted(printed_keys))


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
    """The command line checks every envelope (`check_envelope`, in ncsn.commands.options alone); the two
    blocks checked later are checked where the page says (`check_block` outside ncsn.settings)."""
    text = " ".join(ARCHITECTURE.split())
    paragraph = text.split("(the same test holds this list to the calls):", 1)[1].split("The library functions", 1)[0]
    assert modules_calling("check_envelope") - {"ncsn.settings"} == {"ncsn.commands.options"}
    assert "`check_settings(args)`" in text and "`ncsn.commands.options`" in text
    named = set(re.findall(r"`(ncsn\.[\w.]+)`", paragraph))
    assert {m for m in modules_calling("check_block") if not m.startswith("ncsn.settings")} == named


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
