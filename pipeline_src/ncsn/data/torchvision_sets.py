"""CIFAR-10 in torchvision's on-disk layout, downloaded by torchvision only when ``download: true``; the helpers MNIST shares."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ncsn.data.prepared import Prepared, one_line
from ncsn.data.transforms import convert_array
from ncsn.errors import NcsnError

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_TRAIN = [f"data_batch_{k}" for k in range(1, 6)]
CIFAR10_TEST = ["test_batch"]
CIFAR10_META = "batches.meta"


def root_of(source: str, opts: dict[str, Any], expected: str) -> Path:
    if not opts.get("root"):
        raise NcsnError(
            f"data set source '{source}' needs 'root': the folder that holds {expected} (or that torchvision downloads into with download: true)"
        )
    return Path(opts["root"]).expanduser()


def missing_files(folder: Path, names: list[str]) -> list[str]:
    return [name for name in names if not (folder / name).is_file()]


def fetch(
    source: str, root: Path, folder: Path, missing: list[str], download: bool, get: Callable[[], Any], how: str
) -> None:
    """Download with torchvision when allowed and files are missing; otherwise say what is missing and how to get it."""
    if not missing:
        return
    if not download:
        raise NcsnError(
            f"{source} data not found: {len(missing)} file(s) missing in {folder} ({', '.join(missing)}); {how} "
            f"Or set download: true in this data set's config block to let torchvision download it into {root} (download is off)."
        )
    try:
        get()
    except Exception as err:  # torchvision raises RuntimeError or URLError when the network or a mirror fails
        raise NcsnError(
            f"torchvision could not download {source} into {root} ({type(err).__name__}: {one_line(err)}); check the network, "
            f"or fetch the files elsewhere and place them in {folder}, then set download: false"
        ) from err


def read_cifar_batch(path: Path) -> dict[str, Any]:
    """One pickled CIFAR-10 batch (the format torchvision reads), with an error naming a broken file."""
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle, encoding="latin1")
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, AttributeError, ImportError, IndexError) as err:
        raise NcsnError(
            f"CIFAR-10 file {path} is unreadable or corrupt ({type(err).__name__}: {err}); delete the folder and fetch the data again"
        ) from err


def load_cifar10(opts: dict[str, Any]) -> Prepared:
    """CIFAR-10 from ``root/cifar-10-batches-py/`` (pickled batches), 32x32 RGB, labels 0..9.

    torchvision downloads and checks the official archive; the batches are read here in the
    format torchvision reads them (torchvision's own class also insists on the official MD5 sums).
    """
    names = CIFAR10_TRAIN + CIFAR10_TEST + [CIFAR10_META]
    root = root_of("cifar10", opts, f"{CIFAR10_FOLDER}/ with {', '.join(names)}")
    folder = root / CIFAR10_FOLDER

    def get() -> None:
        from torchvision.datasets import CIFAR10

        CIFAR10(str(root), train=True, download=True)

    how = (
        f"download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and extract it in {root} "
        f"(`tar xzf cifar-10-python.tar.gz -C {root}`)."
    )
    fetch("CIFAR-10", root, folder, missing_files(folder, names), opts["download"], get, how)
    splits = {}
    for split, files in (("train", CIFAR10_TRAIN), ("test", CIFAR10_TEST)):
        images, labels = [], []
        for name in files:
            entry = read_cifar_batch(folder / name)
            try:
                data = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
                batch_labels = np.asarray(entry["labels"], dtype=np.int64)
            except (KeyError, ValueError, TypeError) as err:
                raise NcsnError(
                    f"CIFAR-10 file {folder / name} does not hold 'data' (N x 3072 uint8) and 'labels' ({err}); fetch the data again"
                ) from err
            if len(batch_labels) != len(data):
                raise NcsnError(
                    f"CIFAR-10 file {folder / name} holds {len(data)} images but {len(batch_labels)} labels; fetch the data again"
                )
            images.append(data.transpose(0, 2, 3, 1))
            labels.append(batch_labels)
        splits[split] = (np.concatenate(images), np.concatenate(labels))
    meta = read_cifar_batch(folder / CIFAR10_META)
    return finish(splits, opts, origin=str(folder), classes=list(meta.get("label_names", [])))


def finish(
    splits: dict[str, tuple[np.ndarray, np.ndarray]], opts: dict[str, Any], origin: str, classes: list[str]
) -> Prepared:
    """Apply the optional resize/channel conversion to both splits and describe the result."""
    converted, steps = {}, []
    for split, (images, labels) in splits.items():
        images, steps = convert_array(images, opts["image_size"], opts["channels"], opts["resize_filter"])
        converted[split] = (np.ascontiguousarray(images), labels)
    return Prepared(
        train=converted["train"],
        test=converted["test"],
        preprocessing=steps or ["none (native size and channels)"],
        options=opts,
        info={"origin": origin, "classes": classes, "num_classes": len(classes)},
    )
