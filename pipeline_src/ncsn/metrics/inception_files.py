"""Names and places of the two Inception weight files (torch-fidelity's and clean-fid's).

Light on purpose (no torch import): the workflow checks these files while planning, and the
extractor loads them; both find them through :func:`inception_paths`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

TORCH_FIDELITY_INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
CLEANFID_INCEPTION_FILE = "inception-2015-12-05.pt"  # InceptionV3W loads exactly this name from a folder


def inception_paths(settings: dict[str, Any], model_path: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """(torch-fidelity weights, clean-fid TorchScript file) of an inception extractor block.

    ``model_path`` overrides ``weights``; ``cleanfid_weights`` defaults to clean-fid's file name in
    the folder of the torch-fidelity weights.
    """
    weights = Path(model_path or settings.get("weights") or TORCH_FIDELITY_INCEPTION_FILE)
    cleanfid = Path(settings.get("cleanfid_weights") or weights.parent / CLEANFID_INCEPTION_FILE)
    return weights, cleanfid
