"""The papers' published numbers, read from ``published.yaml`` beside this module (data, not code).

Each row there names where it is printed (``cited``: a table or section of the NCSN paper or of the
[Re] report) and a source key; here the key becomes the label of the tables' ``source`` column and
``cited`` stays in the file, so the tables keep their columns. Read once, torch-free.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PUBLISHED_FILE = Path(__file__).with_name("published.yaml")
_PUBLISHED: dict[str, Any] = yaml.safe_load(PUBLISHED_FILE.read_text(encoding="utf-8"))


def _rows(kind: str) -> list[dict[str, Any]]:
    """The rows of ``kind`` (``results``, ``quoted``, ``timing``) with their source's label, without ``cited``."""
    labels = _PUBLISHED["sources"]
    return [
        {key: labels[value] if key == "source" else value for key, value in row.items() if key != "cited"}
        for row in _PUBLISHED[kind]
    ]


NCSN_PAPER: str = _PUBLISHED["sources"]["ncsn_paper"]
RE_REPORT: str = _PUBLISHED["sources"]["re_report"]
QUOTED: str = _PUBLISHED["sources"]["quoted"]
REFERENCE_RESULTS = _rows("results")  # NCSN Table 1's own row; [Re] Sec. 5.1
QUOTED_RESULTS = _rows("quoted")  # the other models of NCSN Table 1, as the paper quotes them
REFERENCE_TIMING = _rows("timing")  # [Re] Table 1
