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
import numbers
from collections.abc import Mapping
from typing import Any

import torch

from ncsn.errors import NcsnError

KINDS = ("geometric", "linear", "single")
DEFAULTS: dict[str, Any] = {"kind": "geometric", "sigma_begin": 1.0, "sigma_end": 0.01, "num_levels": 10}


def make_sigmas(spec: Mapping[str, Any] | None = None) -> torch.Tensor:
    """Return the noise levels of ``spec`` as a 1-D float32 tensor in descending order.

    ``spec`` has the keys ``kind``, ``sigma_begin``, ``sigma_end``, ``num_levels``; missing
    keys take the paper's values (:data:`DEFAULTS`). Bad values raise :class:`NcsnError`
    naming the key.
    """
    spec = dict(spec or {})
    unknown = sorted(set(spec) - set(DEFAULTS))
    if unknown:
        raise NcsnError(
            f"schedule: unknown key(s) {unknown}; the allowed keys are {sorted(DEFAULTS)}"
        )
    kind = spec.get("kind", DEFAULTS["kind"])
    if kind not in KINDS:
        raise NcsnError(f"schedule.kind is {kind!r}; use one of {list(KINDS)}")
    sigma_end = _positive_number(spec, "sigma_end")

    if kind == "single":
        if "num_levels" in spec and _integer(spec, "num_levels") != 1:
            raise NcsnError(
                f"schedule.num_levels is {spec['num_levels']!r} but kind 'single' has exactly one "
                "noise level (sigma_end); set num_levels to 1 or leave it out"
            )
        return torch.tensor([sigma_end], dtype=torch.float32)

    sigma_begin = _positive_number(spec, "sigma_begin")
    num_levels = _integer(spec, "num_levels")
    if num_levels < 2:
        raise NcsnError(
            f"schedule.num_levels is {num_levels}; kind {kind!r} needs at least 2 levels "
            "(use kind 'single' for one noise level)"
        )
    if not sigma_begin > sigma_end:
        raise NcsnError(
            f"schedule.sigma_begin ({sigma_begin}) must be larger than schedule.sigma_end "
            f"({sigma_end}): levels run from the largest noise to the smallest"
        )
    if kind == "geometric":
        levels = torch.linspace(math.log(sigma_begin), math.log(sigma_end), num_levels, dtype=torch.float64).exp()
    else:
        levels = torch.linspace(sigma_begin, sigma_end, num_levels, dtype=torch.float64)
    return levels.to(torch.float32)


def _positive_number(spec: Mapping[str, Any], key: str) -> float:
    value = spec.get(key, DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise NcsnError(f"schedule.{key} is {value!r}; it must be a finite number > 0")
    return float(value)


def _integer(spec: Mapping[str, Any], key: str) -> int:
    value = spec.get(key, DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise NcsnError(f"schedule.{key} is {value!r}; it must be a whole number")
    return int(value)
