"""Noise levels sigma_1 > ... > sigma_L of a noise-conditional score network.

Three kinds, all from one settings block (paper Sec. 4, [Re] Sec. 6.2):

- ``geometric``: the paper's schedule, ``exp(linspace(log sigma_begin, log sigma_end, L))``
  (L = 10 from 1 to 0.01 by default), computed as in the official code.
- ``linear``: the [Re] extension, ``linspace(sigma_begin, sigma_end, L)`` with the same ends.
- ``single``: the paper's baseline, one level ``sigma_end`` (0.01 by default).
  ``sigma_begin`` plays no part; ``num_levels`` is 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch


def make_sigmas(spec: Mapping[str, Any]) -> torch.Tensor:
    """Return the noise levels of ``spec`` as a 1-D float32 tensor in descending order.

    ``spec`` is a filled, checked schedule block (keys ``kind``, ``sigma_begin``, ``sigma_end``,
    ``num_levels``): ``ncsn.settings.check_block("schedule", ...)`` fills and checks it where the
    settings come in (the paper's values: ``ncsn.settings.defaults("schedule")``).
    """
    kind, sigma_begin, sigma_end, num_levels = spec["kind"], spec["sigma_begin"], spec["sigma_end"], spec["num_levels"]
    if kind == "single":
        return torch.tensor([sigma_end], dtype=torch.float32)
    if kind == "geometric":
        levels = torch.linspace(math.log(sigma_begin), math.log(sigma_end), num_levels, dtype=torch.float64).exp()
    else:
        levels = torch.linspace(sigma_begin, sigma_end, num_levels, dtype=torch.float64)
    return levels.to(torch.float32)
