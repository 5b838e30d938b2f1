"""The eps x T grid of the sampler sweep ([Re] Fig. 8): its cells, their labels and their sampling blocks.

A cell is ``(eps as written in paths, T)``; the workflow runs one ``score`` job per cell and
hands the figure ``--input EPS,T=score.json`` per cell.
"""

from __future__ import annotations

from typing import Any

from ncsn.errors import NcsnError


def cells(block: dict[str, Any]) -> list[tuple[str, int]]:
    """Every cell of a filled ``figures.sweep`` block, eps-major."""
    return [(f"{eps:g}", int(steps)) for eps in block["eps"] for steps in block["n_steps_each"]]


def cell_sampling(sampling: dict[str, Any], eps: str | float, steps: str | int) -> dict[str, Any]:
    """An experiment's sampling block with the cell's eps and T."""
    return {**sampling, "eps": float(eps), "n_steps_each": int(steps)}


def cell_label(eps: str | float, steps: str | int) -> str:
    return f"{eps},{steps}"


def parse_cell_label(label: str) -> tuple[float, int]:
    """``"2e-05,100"`` -> ``(2e-05, 100)``, or an error saying the expected form."""
    eps_text, _, steps_text = label.partition(",")
    try:
        return float(eps_text), int(steps_text)
    except ValueError as err:
        raise NcsnError(f"sweep inputs are named EPS,T=PATH (e.g. 2e-05,100=...), got {label!r}") from err
