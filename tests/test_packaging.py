"""The pins in pyproject.toml and environment.yml agree, and the CLI dispatcher behaves."""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from ncsn import cli
from ncsn.errors import NcsnError
from ncsn.io import atomic_path, read_json, write_json

ROOT = Path(__file__).resolve().parents[1]


def pins_from_pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + project["optional-dependencies"]["test"]
    return dict(line.split("==") for line in lines)


def pins_from_environment() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_block = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    return dict(line.split("==") for line in pip_block)


def test_every_dependency_is_pinned_identically_for_pip_and_conda():
    pyproject = pins_from_pyproject()
    assert all(version for version in pyproject.values())
    assert pyproject == pins_from_environment()


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
        cli.parse_json_settings(text)


def test_atomic_path_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"kept": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("interrupted")
    assert read_json(target) == {"kept": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    assert json.loads(target.read_text()) == {"kept": 1}


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    write_json(tmp_path / "shared.json", {})
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
