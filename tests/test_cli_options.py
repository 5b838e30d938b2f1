"""Top-level command-line options: ``--version`` and ``--settings @FILE``."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import pytest

from ncsn.cli import main
from ncsn.commands.options import parse_json_settings
from ncsn.errors import NcsnError


def test_version_is_the_installed_package_version():
    out = subprocess.run([sys.executable, "-m", "ncsn", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"ncsn {metadata.version('ncsn-pipeline')}"


def test_settings_from_a_yaml_file_equal_the_same_settings_as_json(tmp_path):
    settings = {"sampling": {"n_steps_each": 3, "batch_size": 20}, "seed": 7, "device": "cpu"}
    path = tmp_path / "s.yaml"
    path.write_text("sampling:\n  n_steps_each: 3\n  batch_size: 20\nseed: 7\ndevice: cpu\n")
    assert parse_json_settings(f"@{path}") == parse_json_settings(json.dumps(settings)) == settings


def test_settings_file_errors_name_the_file_and_the_fix(tmp_path, capsys):
    with pytest.raises(NcsnError, match=r"file '.*nope.yaml' does not exist; pass @PATH"):
        parse_json_settings(f"@{tmp_path / 'nope.yaml'}")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(NcsnError, match=r"the file '.*list.yaml' must be a JSON object .*got list"):
        parse_json_settings(f"@{tmp_path / 'list.yaml'}")
    # Through the command line: a clear one-line error and exit code 2, no traceback.
    assert (
        main(
            [
                "select",
                "--run",
                "x",
                "--scores",
                "y",
                "--settings",
                f"@{tmp_path / 'nope.yaml'}",
                "--out",
                "o",
                "--table",
                "t",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("ncsn select: error: --settings @") and "Traceback" not in err
