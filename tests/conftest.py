"""Fixtures shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from ncsn.data import prepare


@pytest.fixture(scope="session")
def digits(tmp_path_factory) -> Path:
    """The embedded digits data set, prepared once per session: the path of its train.npz."""
    out = tmp_path_factory.mktemp("digits")
    prepare("digits", {"source": "digits"}, out)
    return out / "train.npz"
