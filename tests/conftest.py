"""Fixtures shared by several test modules."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

# One torch thread per xdist worker (in-process commands, and the commands the tests start, which inherit
# it; workflow rules set their own): N workers with a thread per core each oversubscribe the cores, and
# OpenMP's spinning barriers then cost far more than the threads gain (a sampling test took 11 s alone and
# 216 s beside a busy worker). Set before anything imports torch, which reads it once.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("OMP_NUM_THREADS", "1")

from helpers import RUNNING, prepare  # noqa: E402 - after the thread count, as helpers imports torch


def pytest_configure(config: pytest.Config) -> None:
    """One cache of network counts (ncsn.workload) per test session, shared by the xdist workers and the
    commands the tests start (they inherit the environment): counted once per session, never taken
    from the user's ~/.cache."""
    if not hasattr(config, "workerinput") and "NCSN_TEST_CACHE" not in os.environ:
        os.environ["NCSN_TEST_CACHE"] = os.environ["NCSN_CACHE_DIR"] = tempfile.mkdtemp(prefix="ncsn-test-cache-")


# The two longest serial units first (pytest -n 2 --dist loadgroup hands out units in collection order):
# the paper smoke run (about 12 minutes on one worker) and the workflow group (about 10), one per worker,
# so that neither starts behind a queue of short tests that the other worker could have run.
LONGEST_GROUPS_FIRST = ("paper_smoke", "workflow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        group = item.get_closest_marker("xdist_group")
        name = group.args[0] if group and group.args else None
        return LONGEST_GROUPS_FIRST.index(name) if name in LONGEST_GROUPS_FIRST else len(LONGEST_GROUPS_FIRST)

    items.sort(key=rank)


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and os.environ.get("NCSN_TEST_CACHE"):
        shutil.rmtree(os.environ.pop("NCSN_TEST_CACHE"), ignore_errors=True)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture of the test (module-scoped ones included) is set up."""
    RUNNING["slow"] = item.get_closest_marker("slow") is not None


@pytest.fixture(scope="session")
def digits(tmp_path_factory) -> Path:
    """The embedded digits data set, prepared once per session: the path of its train.npz."""
    out = tmp_path_factory.mktemp("digits")
    prepare("digits", {"source": "digits"}, out)
    return out / "train.npz"


@pytest.fixture(scope="session")
def sample_shard() -> Callable[..., int]:
    """``ncsn sample`` of shard ``shard`` of ``shards`` from a checkpoint: a function returning the exit code."""
    from ncsn.cli import main

    def run(checkpoint, out, num_samples: int, settings: dict | str, shard: int = 0, shards: int = 1) -> int:
        settings = settings if isinstance(settings, str) else json.dumps(settings)
        return main(
            ["sample", "--checkpoint", str(checkpoint), "--num-samples", str(num_samples)]
            + ["--shard", str(shard), "--shards", str(shards), "--settings", settings, "--out", str(out)]
        )

    return run
