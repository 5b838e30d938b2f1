"""MNIST from its four IDX files, decompressed or ``.gz``, in torchvision's layout or directly in ``root``.

The IDX files are read here (a 4-byte magic, big-endian sizes, the bytes), not by
``torchvision.datasets.MNIST``: torchvision wants the decompressed files and checks its
downloads' MD5, so a user's recompressed ``.gz`` copy (same images, other bytes) would be
refused although nothing is wrong with it. torchvision still downloads when ``download: true``.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ncsn.data.prepared import Prepared
from ncsn.data.torchvision_sets import fetch, finish, root_of
from ncsn.errors import NcsnError

# split -> (images file, labels file), the names the data set's authors gave them
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
NAMES = [name for pair in FILES.values() for name in pair]
IDX_UBYTE = 0x08


def folders(root: Path) -> list[Path]:
    """Where the files may lie: torchvision's ``root/MNIST/raw`` first, then ``root`` itself."""
    return [root / "MNIST" / "raw", root]


def find(root: Path, name: str) -> Path | None:
    """The first of ``name`` or ``name.gz`` in :func:`folders`, the decompressed file first."""
    for folder in folders(root):
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """The uint8 array of an IDX file (gzip-compressed when its name ends in ``.gz``), checked against its header."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise NcsnError(
            f"the MNIST file {path} is unreadable or corrupt ({type(err).__name__}: {err}); fetch it again"
        ) from err
    if len(data) < 4 + 4 * ndim:
        raise NcsnError(f"the MNIST file {path} is unreadable or corrupt: {len(data)} bytes is shorter than its header")
    zero, kind, dims = struct.unpack(">HBB", data[:4])
    if zero != 0 or kind != IDX_UBYTE or dims != ndim:
        raise NcsnError(
            f"the MNIST file {path} is unreadable or corrupt: not an IDX file of unsigned bytes with {ndim} dimension(s) "
            f"(magic {data[:4].hex()}); fetch it again"
        )
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise NcsnError(
            f"the MNIST file {path} is unreadable or corrupt: its header says {shape}, i.e. {int(np.prod(shape))} bytes, "
            f"but it holds {body.size}; fetch it again"
        )
    return body.reshape(shape)


def missing_message(root: Path, found: dict[str, Path | None]) -> str:
    """What was found, what is missing and where it was looked for."""
    have = [f"{name} ({path})" for name, path in found.items() if path is not None]
    lacking = [name for name, path in found.items() if path is None]
    where = " and ".join(str(folder) for folder in folders(root))
    return (
        f"{len(lacking)} of the 4 files missing ({', '.join(lacking)}, each decompressed or as .gz) in {where}"
        + (f"; found {', '.join(have)}" if have else "")
        + ". Get them from http://yann.lecun.com/exdb/mnist/ (or a mirror such as https://ossci-datasets.s3.amazonaws.com/mnist/)"
        " and put them in one of those folders; .gz files are read as they are."
    )


def load(opts: dict[str, Any]) -> Prepared:
    """The official 60,000 training and 10,000 test images (28x28 grey) with their labels 0..9."""
    root = root_of("mnist", opts, f"the four MNIST files ({', '.join(NAMES)}, or .gz) or MNIST/raw/ with them")
    found = {name: find(root, name) for name in NAMES}
    lacking = [name for name, path in found.items() if path is None]

    def get() -> None:
        from torchvision.datasets import MNIST

        MNIST(str(root), train=True, download=True)

    if lacking and not opts["download"]:
        raise NcsnError(
            f"MNIST data not found: {missing_message(root, found)} "
            f"Or set download: true in this data set's config block to let torchvision download it into {root} (download is off)."
        )
    fetch("MNIST", root, folders(root)[0], lacking, opts["download"], get, "")
    found = {name: find(root, name) for name in NAMES}
    if any(path is None for path in found.values()):
        raise NcsnError(f"MNIST data still incomplete after the download: {missing_message(root, found)}")
    splits = {}
    for split, (image_name, label_name) in FILES.items():
        images, labels = read_idx(found[image_name], 3), read_idx(found[label_name], 1)
        if len(images) != len(labels):
            raise NcsnError(
                f"the MNIST files {found[image_name]} and {found[label_name]} disagree: {len(images)} images but "
                f"{len(labels)} labels; fetch them again"
            )
        if labels.size and labels.max() > 9:
            raise NcsnError(f"the MNIST file {found[label_name]} holds label {labels.max()}; MNIST labels are 0..9")
        splits[split] = (np.ascontiguousarray(images)[..., None], labels.astype(np.int64))
    origin = sorted({str(path.parent) for path in found.values()})
    prepared = finish(splits, opts, origin=", ".join(origin), classes=[str(k) for k in range(10)])
    prepared.info["files"] = {name: path.name for name, path in found.items()}
    return prepared
