"""CelebA (aligned faces), as the paper: centre crop 140x140, resize to 32x32.

Reads torchvision's layout (``root/celeba/img_align_celeba/*.jpg`` with the official split in
``root/celeba/list_eval_partition.txt``: 0 train, 1 validation, 2 test) or a plain folder of
aligned images, which is split with ``test_fraction``/``split_seed``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ncsn.data.images import is_image, read_images
from ncsn.data.prepared import Prepared, one_line
from ncsn.data.split import train_test_indices
from ncsn.data.transforms import describe
from ncsn.errors import NcsnError

IMAGE_DIR = "img_align_celeba"
PARTITION_FILE = "list_eval_partition.txt"
TRAIN, TEST = 0, 2  # partition codes the official NCSN code trains and tests on (1 = validation, unused)


def expected_layout(root: Path) -> str:
    return (
        f"either torchvision's CelebA layout, {root}/celeba/{IMAGE_DIR}/ (the 202,599 aligned JPEGs 000001.jpg ... "
        f"from img_align_celeba.zip) with {root}/celeba/{PARTITION_FILE} (the official train/validation/test split), "
        f"or a plain folder of aligned face images directly in {root}"
    )


def locate(root: Path) -> tuple[Path, Path | None] | None:
    """(image folder, partition file or None) of the first layout found under ``root``."""
    for base in (root / "celeba", root):
        images = base / IMAGE_DIR
        if images.is_dir():
            partition = base / PARTITION_FILE
            return images, partition if partition.is_file() else None
    if root.is_dir() and any(is_image(p) for p in root.iterdir()):
        return root, None
    return None


def download(root: Path) -> None:
    """Let torchvision fetch CelebA (Google Drive; needs the ``gdown`` package and a network)."""
    from torchvision.datasets import CelebA

    try:
        CelebA(str(root), split="all", download=True)
    except Exception as err:  # torchvision raises RuntimeError, URLError, gdown errors, ...
        raise NcsnError(
            f"downloading CelebA into {root} with torchvision failed ({type(err).__name__}: {one_line(err)}); torchvision needs "
            f"`pip install gdown` and access to Google Drive (often rate-limited). Alternatively put {expected_layout(root)} "
            "and set download: false"
        ) from err


def find(opts: dict[str, Any]) -> tuple[Path, Path | None]:
    if not opts.get("root"):
        raise NcsnError("data set source 'celeba' needs 'root': the folder that holds " + expected_layout(Path("ROOT")))
    root = Path(opts["root"]).expanduser()
    found = locate(root)
    if found is None and opts["download"]:
        download(root)
        found = locate(root)
    if found is None:
        raise NcsnError(
            f"CelebA not found under {root} (setting 'root'): expected {expected_layout(root)}. Download "
            "img_align_celeba.zip and Eval/list_eval_partition.txt from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html "
            f"and unzip them into {root}/celeba/, or set download: true to let torchvision fetch them (download is off)"
        )
    return found


def official_split(images: Path, partition: Path) -> tuple[list[Path], np.ndarray]:
    """Files named in the partition file and their partition codes; every named file must exist."""
    names, codes = [], []
    for number, line in enumerate(partition.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or not fields[1].isdigit():
            raise NcsnError(
                f"{partition} line {number} is not '<file name> <0|1|2>': {line!r}; restore the original file"
            )
        names.append(fields[0])
        codes.append(int(fields[1]))
    present = {p.name for p in images.iterdir()}
    missing = [name for name in names if name not in present]
    if missing:
        raise NcsnError(
            f"{len(missing)} image(s) listed in {partition} are missing from {images} (e.g. {', '.join(missing[:3])}); "
            "unzip the complete img_align_celeba.zip there"
        )
    return [images / name for name in names], np.asarray(codes)


def load(opts: dict[str, Any]) -> Prepared:
    """CelebA as a filled data set block says (``ncsn.data.prepare`` fills and checks it)."""
    image_dir, partition = find(opts)
    if partition is not None:
        paths, codes = official_split(image_dir, partition)
        train, test = np.flatnonzero(codes == TRAIN), np.flatnonzero(codes == TEST)
        if len(train) == 0 or len(test) == 0:
            raise NcsnError(
                f"{partition} assigns no image to the train (0) or test (2) partition; restore the original file"
            )
        split_step = (
            f"official split from {PARTITION_FILE}: partition {TRAIN} = train, {TEST} = test (validation unused)"
        )
    else:
        paths = sorted(p for p in image_dir.iterdir() if is_image(p))
        if not paths:
            raise NcsnError(f"no images in {image_dir}: expected the aligned CelebA JPEGs (000001.jpg ...)")
        train, test, _ = train_test_indices(
            np.full(len(paths), -1, np.int64), opts["test_fraction"], opts["split_seed"]
        )
        split_step = f"train/test split: test_fraction={opts['test_fraction']}, split_seed={opts['split_seed']}"
    keep = np.concatenate([train, test])
    images = read_images(
        [paths[i] for i in keep],
        opts["crop"],
        opts["image_size"],
        opts["channels"],
        opts["resize_filter"],
        opts["workers"],
    )
    unlabelled = np.full(len(keep), -1, np.int64)
    n_train = len(train)
    return Prepared(
        train=(images[:n_train], unlabelled[:n_train]),
        test=(images[n_train:], unlabelled[n_train:]),
        preprocessing=[
            *describe(opts["crop"], opts["image_size"], opts["channels"], opts["resize_filter"]),
            split_step,
        ],
        options=opts,
        info={"origin": str(image_dir), "layout": "torchvision" if partition is not None else "folder"},
    )
