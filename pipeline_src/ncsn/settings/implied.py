"""What a filled config implies for the workflow to run (torch-free; the workflow reads it while it plans its jobs)."""

from __future__ import annotations

from typing import Any


def is_trained(exp: dict[str, Any]) -> bool:
    """Whether an experiment trains its model: one with a ``checkpoint:`` block evaluates that checkpoint instead."""
    return "checkpoint" not in exp


def sample_timing_jobs(config: dict[str, Any]) -> list[tuple[str, int]]:
    """(experiment, image count) of [Re] Table 1's timed sampling jobs: none without
    ``report.sample_timing``, every experiment when it names none."""
    block = config.get("report", {}).get("sample_timing")
    if block is None:
        return []
    names = block.get("experiments") or list(config["experiments"])
    return [(name, int(count)) for name in names for count in block["counts"]]
