"""What a data source hands back before it is written: both splits and a record of what was done."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Prepared:
    train: tuple[np.ndarray, np.ndarray]  # images uint8 (N, H, W, C), labels int64 (N,), -1 when unlabelled
    test: tuple[np.ndarray, np.ndarray]
    preprocessing: list[str]  # human-readable steps, in order, recorded in meta.json
    options: dict[str, Any]  # the settings with every default filled in, recorded in meta.json
    info: dict[str, Any] = field(default_factory=dict)  # source-specific facts for meta.json (origin, classes, ...)


def one_line(err: BaseException) -> str:
    """An exception's message on one line (download errors span several), for one-paragraph errors."""
    return " ".join(str(err).split())
