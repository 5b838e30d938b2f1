"""Any folder of PNG/JPEG images, optionally one sub-folder per class, so the pipeline runs on a user's own data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ncsn.data.images import IMAGE_SUFFIXES, is_image, read_images
from ncsn.data.prepared import Prepared
from ncsn.data.split import split_prepared, train_test_indices
from ncsn.data.transforms import describe
from ncsn.errors import NcsnError


def require_root(source: str, opts: dict[str, Any], expected: str) -> Path:
    """The ``root`` folder of a source, or an error saying what belongs there."""
    if not opts.get("root"):
        raise NcsnError(f"data set source '{source}' needs 'root': the folder that holds {expected}")
    root = Path(opts["root"]).expanduser()
    if not root.is_dir():
        raise NcsnError(
            f"data folder {root} (setting 'root') does not exist or is not a folder; it should hold {expected}"
        )
    return root


def find_images(root: Path) -> tuple[list[Path], np.ndarray, list[str]]:
    """Image paths (sorted), labels and class names: one class per sub-folder, or unlabelled (-1) loose images."""
    loose = sorted(p for p in root.iterdir() if is_image(p))
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    per_class = [(d.name, sorted(p for p in d.rglob("*") if is_image(p))) for d in class_dirs]
    per_class = [(name, files) for name, files in per_class if files]
    if loose and per_class:
        raise NcsnError(
            f"{root} holds images both directly ({len(loose)}, e.g. {loose[0].name}) and in sub-folders "
            f"({', '.join(name for name, _ in per_class[:5])}); put every image in a class sub-folder, or all of them directly in {root}"
        )
    if per_class:
        paths = [p for _, files in per_class for p in files]
        labels = np.concatenate([np.full(len(files), k, np.int64) for k, (_, files) in enumerate(per_class)])
        return paths, labels, [name for name, _ in per_class]
    if not loose:
        raise NcsnError(
            f"no images found in {root}: expected files ending in {', '.join(IMAGE_SUFFIXES)} (any case), "
            "either directly in the folder or in one sub-folder per class"
        )
    return loose, np.full(len(loose), -1, np.int64), []


def load(opts: dict[str, Any]) -> Prepared:
    """An image folder as a filled data set block says (``ncsn.data.prepare`` fills and checks it)."""
    root = require_root("folder", opts, "PNG/JPEG images, directly or in one sub-folder per class")
    paths, labels, classes = find_images(root)
    split = train_test_indices(
        labels, opts["test_fraction"], opts["split_seed"]
    )  # a bad split fails before any image is read
    images = read_images(
        paths, opts["crop"], opts["image_size"], opts["channels"], opts["resize_filter"], opts["workers"]
    )
    steps = describe(opts["crop"], opts["image_size"], opts["channels"], opts["resize_filter"])
    info = {"origin": str(root), "num_files": len(paths), "classes": classes, "num_classes": len(classes)}
    return split_prepared(images, labels, split, steps, opts, info)
