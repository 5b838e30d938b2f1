"""The house drawn from the import graph: floors, no upward arrows, no cycles, no command-to-command arrows.

The graph is drawn from the source with ``ast`` (module-level and function-level imports, so a
lazy import inside a command's ``run`` counts); the floors are read from the "Layers" table of
docs/ARCHITECTURE.md, the one place they are written down. A new module goes into that table.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pipeline_src" / "ncsn"
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
SHARED_COMMAND_MODULES = {"ncsn.commands", "ncsn.commands.options"}  # what a command may import of commands/


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def owner(name: str) -> str | None:
    """The module of ours that ``name`` (a module, or a module's attribute) lives in."""
    while name and name not in modules():
        name = name.rpartition(".")[0]
    return name or None


def imported(module: str, path: Path) -> set[str]:
    """The modules of ours that ``module`` imports anywhere in its file."""
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from .y import z
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [f"{base}.{alias.name}" for alias in node.names]  # a submodule, or an attribute of base
        else:
            continue
        found |= {owner(name) for name in names if name.split(".")[0] == "ncsn"}
    return found - {None, module}


@cache
def graph() -> dict[str, set[str]]:
    return {module: imported(module, path) for module, path in modules().items()}


@cache
def floors() -> dict[str, int]:
    """Module or package prefix -> its floor (1 = the ground), from docs/ARCHITECTURE.md's Layers table."""
    section = ARCHITECTURE.read_text(encoding="utf-8").split("## Layers", 1)[1].split("\n## ", 1)[0]
    table = {}
    for number, cells in re.findall(r"^\|\s*(\d+)\s[^|]*\|([^|]*)\|", section, re.M):
        for name in re.findall(r"`(ncsn[\w.]*)`", cells):
            table[name] = int(number)
    assert table, "docs/ARCHITECTURE.md lost its Layers table"
    return table


def floor(module: str) -> int:
    """A module's floor: its own entry, else its closest package's (never the root ``ncsn``'s, which
    holds only the package's ``__init__``); a ``__main__`` is an entry point (the top floor)."""
    if module.endswith("__main__"):
        return max(floors().values())
    parts = module.split(".")
    for cut in range(len(parts), 1 if len(parts) > 1 else 0, -1):
        if (name := ".".join(parts[:cut])) in floors():
            return floors()[name]
    raise AssertionError(f"{module} is on no floor: add it to the Layers table of docs/ARCHITECTURE.md")


def upward_arrows(edges: dict[str, set[str]], floor_of) -> list[str]:
    return [
        f"{src} (floor {floor_of(src)}) imports {dst} (floor {floor_of(dst)})"
        for src, targets in sorted(edges.items())
        for dst in sorted(targets)
        if floor_of(dst) > floor_of(src)
    ]


def command_arrows(edges: dict[str, set[str]]) -> list[str]:
    return [
        f"{src} -> {dst}"
        for src, targets in sorted(edges.items())
        if src.startswith("ncsn.commands.")
        for dst in sorted(targets)
        if dst.startswith("ncsn.commands") and dst not in SHARED_COMMAND_MODULES
    ]


def find_cycle(edges: dict[str, set[str]]) -> list[str]:
    """One import cycle (``[a, b, ..., a]``), or ``[]`` when the graph has none (depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(module: str, path: list[str]) -> list[str]:
        if state.get(module) == 1:
            return path[path.index(module) :] + [module]
        if state.get(module) == 2:
            return []
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if cycle := visit(target, [*path, module]):
                return cycle
        state[module] = 2
        return []

    for module in sorted(edges):
        if cycle := visit(module, []):
            return cycle
    return []


def test_every_module_is_on_a_floor_and_every_entry_names_a_module():
    assert {name for name in floors() if name not in modules()} == set(), "the Layers table names modules that are gone"
    for module in modules():
        floor(module)


def test_no_module_imports_from_a_floor_above_its_own():
    assert upward_arrows(graph(), floor) == []


def test_no_command_imports_another_command():
    assert command_arrows(graph()) == []


def test_the_import_graph_has_no_cycles():
    assert find_cycle(graph()) == []


def test_the_checks_find_planted_faults():
    """Each check fails on a graph with its fault: an arrow up, a command importing a command, a cycle."""
    planted = {**graph(), "ncsn.io": {"ncsn.train"}, "ncsn.commands.evaluate": {"ncsn.commands.score"}}
    assert upward_arrows(planted, floor) == ["ncsn.io (floor 1) imports ncsn.train (floor 4)"]
    assert command_arrows(planted) == ["ncsn.commands.evaluate -> ncsn.commands.score"]
    with pytest.raises(AssertionError, match="ncsn.brand_new is on no floor"):
        floor("ncsn.brand_new")  # a new top-level module must be placed, not fall to the root's floor
    cycle = find_cycle({**graph(), "ncsn.errors": {"ncsn.settings"}})  # settings imports errors
    assert cycle[0] == cycle[-1] and {"ncsn.errors", "ncsn.settings"} <= set(cycle)


def test_the_graph_sees_lazy_and_relative_imports():
    """The drawing itself: a function-level import counts, and an imported name resolves to its module."""
    assert "ncsn.metrics.fidelity" in graph()["ncsn.commands.evaluate"]  # imported inside run()
    assert "ncsn.sampling" in graph()["ncsn.commands.figure"]  # `from ncsn import sampling`
    assert "ncsn" in graph()["ncsn.cli"]  # `from ncsn import __version__`: the package itself
    assert "ncsn.settings.schema" in graph()["ncsn.settings.checks"]


def top_level_imports(path: Path) -> set[str]:
    """The first name of every module a file imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_tests_share_helpers_through_one_module_never_through_each_other():
    """A helper two test modules use lives in tests/helpers.py; no test module (nor conftest) imports another."""
    tests = ROOT / "tests"
    test_modules = {path.stem for path in tests.glob("test_*.py")} | {"conftest"}
    found = {
        f"{path.name} imports {name}"
        for path in sorted(tests.rglob("*.py"))
        for name in top_level_imports(path) & test_modules
    }
    assert sorted(found) == []
    assert "helpers" in top_level_imports(tests / "test_workflow_given.py")  # the check reads real imports
