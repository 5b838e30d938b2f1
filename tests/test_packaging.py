"""Ranges in the package metadata, exact versions in the lock (and environment.yml), and the CLI dispatcher."""

import json
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from ncsn import cli
from ncsn.commands.options import parse_json_settings
from ncsn.errors import NcsnError
from ncsn.io import atomic_path

ROOT = Path(__file__).resolve().parents[1]


def metadata_requirements() -> list[Requirement]:
    """The ranges pip resolves from on `pip install .` (runtime and the test extra)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(line) for line in project["dependencies"] + project["optional-dependencies"]["test"]]


def lock_lines() -> list[str]:
    lines = (ROOT / "requirements-lock.txt").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def lock_pins() -> dict[str, str]:
    """Canonical name -> the exact version `make venv` installs."""
    pins = {}
    for line in lock_lines():
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"lock line {line!r} is not an exact pin"
        pins[canonicalize_name(req.name)] = spec.version
    return pins


def test_package_metadata_has_ranges_and_no_exact_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    for req in metadata_requirements():
        assert req.specifier, f"{req.name} has no range"
        assert not any(spec.operator in ("==", "===") for spec in req.specifier), f"{req} is an exact pin"


def test_every_lock_entry_satisfies_the_package_ranges():
    ranges = {canonicalize_name(req.name): req.specifier for req in metadata_requirements()}
    pins = lock_pins()
    assert sorted(pins) == sorted(ranges), "the lock and pyproject.toml name different packages"
    outside = {name: (version, str(ranges[name])) for name, version in pins.items() if version not in ranges[name]}
    assert not outside, f"lock versions outside the pyproject.toml ranges: {outside}"


def test_environment_yml_lists_exactly_the_lock():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_block = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    assert pip_block == lock_lines()
    assert "python=3.11" in env["dependencies"]


def test_the_readmes_cpu_torch_recipe_names_the_locked_versions():
    """README: the CPU build installed first must be the version the lock pins, or `make` would replace it."""
    recipe = re.search(
        r"pip install (torch==\S+) (torchvision==\S+) --index-url \S+/whl/cpu", (ROOT / "README.md").read_text()
    )
    assert recipe, "README lost its CPU-only torch recipe"
    assert set(recipe.groups()) <= set(lock_lines())


def test_the_environment_running_the_tests_has_the_locked_versions():
    """`make venv` installs from the lock: what CI tests is what the lock says (a +cpu/+cuXXX build counts)."""
    found = {name: metadata.version(name) for name in lock_pins()}
    wrong = {
        name: (found[name], version)
        for name, version in lock_pins().items()
        if found[name] not in SpecifierSet(f"=={version}")
    }
    assert not wrong, f"installed (found, locked): {wrong}; run `make venv`"


def test_every_listed_command_has_a_module():
    for name, (module, _) in cli.COMMANDS.items():
        assert (ROOT / "pipeline_src" / "ncsn" / "commands" / f"{module}.py").exists(), name


def test_unknown_command_is_rejected_with_usage():
    result = subprocess.run([sys.executable, "-m", "ncsn", "no-such-command"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


@pytest.mark.parametrize("text, message", [("{bad", "not valid JSON"), ("[1, 2]", "must be a JSON object")])
def test_settings_json_errors_say_what_is_wrong(text, message):
    with pytest.raises(NcsnError, match=message):
        parse_json_settings(text)


def test_atomic_path_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with atomic_path(target) as tmp:
        tmp.write_text('{"kept": 1}')
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("interrupted")
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    assert json.loads(target.read_text()) == {"kept": 1}


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    with atomic_path(tmp_path / "shared.json") as tmp:
        tmp.write_text("{}")
    mode = (tmp_path / "shared.json").stat().st_mode & 0o777
    old = os.umask(0)
    os.umask(old)
    assert mode == 0o666 & ~old


def test_saved_torch_files_do_not_depend_on_the_temporary_name(tmp_path):
    import hashlib

    import torch

    from ncsn.io import save_torch

    state = {"weights": torch.arange(6.0)}
    save_torch(tmp_path / "a.pt", state)
    save_torch(tmp_path / "a_copy.pt", state)
    digest = [hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in ("a.pt", "a_copy.pt")]
    assert digest[0] == digest[1]
    assert torch.equal(torch.load(tmp_path / "a.pt")["weights"], state["weights"])
