"""Data sets to cached uint8 arrays (``prepare``), reading them back (``load_split``) and training batches (``DeviceBatcher``).

Sources: ``digits`` (scikit-learn, embedded), ``mnist`` (its IDX files, plain or ``.gz``), ``cifar10`` (torchvision layout),
``celeba`` (torchvision layout or a plain folder; centre crop 140, resize 32) and ``folder``
(any PNG/JPEG folder, optional class sub-folders).
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Callable

from ncsn.data.prepared import Prepared
from ncsn.data.store import load_meta, load_split, write_dataset
from ncsn.errors import NcsnError

# source name -> "module:function" whose function(settings) -> Prepared reads it (imported only when used)
SOURCES: dict[str, str] = {
    "digits": "ncsn.data.digits:load",
    "mnist": "ncsn.data.mnist:load",
    "cifar10": "ncsn.data.torchvision_sets:load_cifar10",
    "celeba": "ncsn.data.celeba:load",
    "folder": "ncsn.data.folder:load",
}

__all__ = ["DeviceBatcher", "SOURCES", "load_meta", "load_split", "prepare", "source_loader"]


def __getattr__(name: str) -> Any:
    """Import ``DeviceBatcher`` (and with it torch) only when asked for: ``prepare`` does not need torch."""
    if name == "DeviceBatcher":
        from ncsn.data.loader import DeviceBatcher

        return DeviceBatcher
    raise AttributeError(f"module 'ncsn.data' has no attribute {name!r}")


def source_loader(source: Any) -> Callable[[dict[str, Any]], Prepared]:
    """The function that reads ``source``; an unknown source is an error listing the known ones."""
    if source not in SOURCES:
        raise NcsnError(
            f"unknown data set source {source!r}; set 'source' to one of: {', '.join(SOURCES)} "
            "(digits needs nothing, mnist/cifar10/celeba/folder need 'root'; see docs/data.md)"
        )
    module, function = SOURCES[source].split(":")
    return getattr(importlib.import_module(module), function)


def prepare(name: str, settings: dict[str, Any], out_dir: str | os.PathLike) -> dict[str, Any]:
    """Read data set ``name`` as its filled block ``settings`` says and write ``train.npz``, ``test.npz``,
    ``meta.json`` to ``out_dir`` (``ncsn prepare``'s envelope; ``ncsn.settings.check_envelope("prepare", ...)``
    fills and checks a block written by hand).

    The source is located before any image is read; outputs appear only once complete. Returns the
    metadata written to ``meta.json``.
    """
    prepared = source_loader(settings["source"])(settings)
    train_images, _ = prepared.train
    meta = {
        "name": name,
        "source": settings["source"],
        "counts": {"train": int(len(prepared.train[0])), "test": int(len(prepared.test[0]))},
        "shape": list(train_images.shape[1:]),
        "labelled": bool(len(prepared.train[1]) and prepared.train[1].min() >= 0),
        "preprocessing": prepared.preprocessing,
        **prepared.info,
        "settings": settings,
        "resolved_settings": prepared.options,
    }
    return write_dataset(out_dir, {"train": prepared.train, "test": prepared.test}, meta)
