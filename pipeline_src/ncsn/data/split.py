"""Seeded train/test split, stratified by label when the data are labelled."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from ncsn.data.prepared import Prepared
from ncsn.errors import NcsnError


def can_stratify(labels: np.ndarray, n_test: int) -> bool:
    """Stratify when the data are labelled and every class fits in both splits."""
    if labels.size == 0 or labels.min() < 0:
        return False
    counts = np.bincount(labels)
    counts = counts[counts > 0]
    n_classes = len(counts)
    return n_classes > 1 and counts.min() >= 2 and n_classes <= n_test <= len(labels) - n_classes


def train_test_indices(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Sorted train and test indices and whether the split is stratified by label."""
    n = len(labels)
    if not 0.0 < float(test_fraction) < 1.0:
        raise NcsnError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    n_test = int(round(n * test_fraction))
    if n_test < 1 or n_test >= n:
        raise NcsnError(
            f"test_fraction {test_fraction} of {n} images leaves an empty train or test split; "
            "add images or choose another test_fraction"
        )
    stratified = can_stratify(labels, n_test)
    train, test = train_test_split(
        np.arange(n), test_size=n_test, random_state=seed, shuffle=True, stratify=labels if stratified else None
    )
    return np.sort(train), np.sort(test), stratified


def describe_split(stratified: bool, test_fraction: float, seed: int) -> str:
    """The preprocessing line recorded in meta.json for a seeded train/test split."""
    kind = "stratified " if stratified else ""
    return f"{kind}train/test split: test_fraction={test_fraction}, split_seed={seed}"


def split_prepared(
    images: np.ndarray,
    labels: np.ndarray,
    split: tuple[np.ndarray, np.ndarray, bool],
    steps: list[str],
    opts: dict[str, Any],
    info: dict[str, Any],
) -> Prepared:
    """The Prepared record of one pool of images cut by ``split`` (``train_test_indices`` of
    ``opts``' test_fraction and split_seed): the split added to ``steps``, whether it was
    stratified to ``info``."""
    train, test, stratified = split
    return Prepared(
        train=(images[train], labels[train]),
        test=(images[test], labels[test]),
        preprocessing=[*steps, describe_split(stratified, opts["test_fraction"], opts["split_seed"])],
        options=opts,
        info={**info, "stratified": stratified},
    )
