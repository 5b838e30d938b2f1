"""The embedded default: scikit-learn's 1797 real 8x8 handwritten digits (no network)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.datasets import load_digits

from ncsn.data.prepared import Prepared
from ncsn.data.split import split_prepared, train_test_indices
from ncsn.data.transforms import convert_array

GREY_LEVELS = 16  # load_digits pixel values are 0..16


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Rescale the 17 grey levels 0..16 onto 0..255: round(v * 255 / 16)."""
    return np.rint(values.astype(np.float64) * 255.0 / GREY_LEVELS).astype(np.uint8)


def load(opts: dict[str, Any]) -> Prepared:
    """The digits as a filled data set block says (``ncsn.data.prepare`` fills and checks it)."""
    bunch = load_digits()
    images = to_uint8(bunch.images)[..., None]  # (1797, 8, 8, 1)
    labels = bunch.target.astype(np.int64)
    split = train_test_indices(labels, opts["test_fraction"], opts["split_seed"])
    images, steps = convert_array(images, opts["image_size"], opts["channels"], opts["resize_filter"])
    steps = ["grey levels 0..16 -> 0..255 (round(v*255/16))", *steps]
    info = {"origin": "sklearn.datasets.load_digits", "num_classes": 10}
    return split_prepared(images, labels, split, steps, opts, info)
