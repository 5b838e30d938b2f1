"""Reference FID statistics of a data set's training split, computed once and cached as ``.npz``.

The file holds each library's (mu, sigma), the FID features of up to
:data:`ncsn.metrics.fidelity.MAX_SET_FEATURES` images (for KID and precision/recall) and a JSON ``meta`` naming the data, the number of
images and the extractor (with its weights' sha256): scoring against statistics of another
extractor raises an error instead of giving a meaningless number.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ncsn.errors import NcsnError
from ncsn.io import save_npz
from ncsn.metrics.extractors import Extractor, build_extractor
from ncsn.metrics.fidelity import Statistics, image_statistics
from ncsn.records import INCEPTION_SCORE, REFERENCE_STATS

ARRAYS = ("mu", "sigma", "mu_cleanfid", "sigma_cleanfid", "features")


def compute_reference(images: np.ndarray, extractor: Extractor, data: str) -> tuple[Statistics, dict[str, Any]]:
    """FID statistics (both libraries) and IS of ``images`` (the training split named ``data``)."""
    stats = image_statistics(images, extractor)
    meta = {
        "data": str(data),
        "num_images": int(len(images)),
        "image_shape": list(images.shape[1:]),
        "extractor": extractor.identity,
        INCEPTION_SCORE: stats.inception_score(),
    }
    return stats, meta


def save_reference(path: str | os.PathLike, stats: Statistics, meta: dict[str, Any]) -> None:
    (mu, sigma), (mu_c, sigma_c) = stats.torch_fidelity, stats.cleanfid
    meta_text = np.array(REFERENCE_STATS.dumps(meta))
    save_npz(
        path, mu=mu, sigma=sigma, mu_cleanfid=mu_c, sigma_cleanfid=sigma_c, features=stats.features, meta=meta_text
    )


def load_reference(path: str | os.PathLike, extractor: Extractor | None = None) -> tuple[Statistics, dict[str, Any]]:
    """Read reference statistics; with ``extractor``, check they were computed with the same one."""
    path = Path(path)
    if not path.is_file():
        raise NcsnError(
            f"reference statistics {path} do not exist; compute them with `python -m ncsn ref-stats --data TRAIN.npz ... --out {path}`"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in ARRAYS}
            meta_text = str(data["meta"])
    except (OSError, ValueError, KeyError) as err:
        raise NcsnError(
            f"{path} is not a reference statistics file written by ref-stats ({err}); delete it and run ref-stats again"
        ) from err
    meta = REFERENCE_STATS.loads(meta_text, path)
    if extractor is not None:
        theirs, ours = meta["extractor"], extractor.identity
        if (theirs["kind"], theirs["model_sha256"]) != (ours["kind"], ours["model_sha256"]):
            raise NcsnError(
                f"{path} was computed with extractor {theirs['kind']} ({theirs['model']}, sha256 {theirs['model_sha256'][:12]}), "
                f"not the current {ours['kind']} ({ours['model']}, sha256 {ours['model_sha256'][:12]}); run ref-stats again"
            )
    stats = Statistics(
        meta["num_images"],
        (arrays["mu"], arrays["sigma"]),
        (arrays["mu_cleanfid"], arrays["sigma_cleanfid"]),
        features=arrays["features"],
    )
    return stats, meta


def extractor_for_reference(
    path: str | os.PathLike,
    model_path: str | os.PathLike | None,
    device: torch.device,
    settings: dict[str, Any] | None = None,
) -> tuple[Extractor, Statistics, dict[str, Any]]:
    """The extractor reference statistics ``path`` were computed with, loaded from ``model_path``, and the statistics.

    ``settings`` default to those the statistics record; either way the model file must be the
    same one (sha256), else NcsnError.
    """
    _, meta = load_reference(path)
    recorded = meta["extractor"]
    if settings is None:
        settings = dict(recorded["settings"])
        if recorded.get("cleanfid_model") and Path(recorded["cleanfid_model"]).is_file():
            settings["cleanfid_weights"] = recorded["cleanfid_model"]
    extractor = build_extractor(settings, model_path or recorded["model"], device)
    stats, meta = load_reference(path, extractor)
    return extractor, stats, meta
