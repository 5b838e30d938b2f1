"""Noise levels sigma_1 > ... > sigma_L of a noise-conditional score network.

Three kinds, all from one settings block (paper Sec. 4, [Re] Sec. 6.2):

- ``geometric``: the paper's schedule, ``exp(linspace(log sigma_begin, log sigma_end, L))``
  (L = 10 from 1 to 0.01 by default), computed as in the official code.
- ``linear``: the [Re] extension, ``linspace(sigma_begin, sigma_end, L)`` with the same ends.
- ``single``: the paper's baseline, one level ``sigma_end`` (0.01 by default).
  ``sigma_begin`` plays no part; ``num_levels``, when given, must be 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from ncsn.settings import check_block


def make_sigmas(spec: Mapping[str, Any] | None = None) -> torch.Tensor:
    """Return the noise levels of ``spec`` as a 1-D float32 tensor in descending order.

    ``spec`` has the keys ``kind``, ``sigma_begin``, ``sigma_end``, ``num_levels``; missing
    keys take the paper's values (``ncsn.settings``, block ``schedule``). Bad values raise
    :class:`NcsnError` naming the key.
    """
    spec = check_block("schedule", dict(spec or {}))
    kind, sigma_begin, sigma_end, num_levels = spec["kind"], spec["sigma_begin"], spec["sigma_end"], spec["num_levels"]
    if kind == "single":
        return torch.tensor([sigma_end], dtype=torch.float32)
    if kind == "geometric":
        levels = torch.linspace(math.log(sigma_begin), math.log(sigma_end), num_levels, dtype=torch.float64).exp()
    else:
        levels = torch.linspace(sigma_begin, sigma_end, num_levels, dtype=torch.float64)
    return levels.to(torch.float32)
