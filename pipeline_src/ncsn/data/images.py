"""Decode a list of image files into one uint8 NHWC array (threads; every problem names its file)."""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ncsn.data.transforms import crop_box, transform_image
from ncsn.errors import NcsnError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def is_image(path: Path) -> bool:
    """A PNG/JPEG file by its suffix; hidden files (e.g. macOS ``._name.jpg`` companions) are skipped."""
    return not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()


def worker_count(workers: int | None) -> int:
    """Threads for decoding: ``workers`` or, when None, every CPU this process may use."""
    if workers is not None:
        return workers
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def broken(path: Path, err: Exception) -> NcsnError:
    return NcsnError(f"image file {path} is unreadable or corrupt ({err}); replace or delete it and run prepare again")


def output_size(path: Path, crop: int | str | None, image_size: int | None) -> tuple[int, int]:
    """(height, width) the file will have after crop/resize, from its header alone (cheap)."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
        raise broken(path, err) from err
    if image_size is not None:
        return image_size, image_size
    try:
        box = crop_box(width, height, crop)
    except NcsnError as err:
        raise NcsnError(f"cannot use image {path}: {err}") from err
    return (height, width) if box is None else (box[3] - box[1], box[2] - box[0])


def check_sizes(paths: list[Path], crop: int | str | None, image_size: int | None, pool: ThreadPoolExecutor) -> None:
    """Fail before decoding anything when the images cannot all end up the same size."""
    sizes = list(pool.map(lambda path: output_size(path, crop, image_size), paths))
    counts = Counter(sizes)
    if len(counts) > 1:
        examples: dict[tuple[int, int], Path] = {}
        for path, size in zip(paths, sizes):
            examples.setdefault(size, path)
        listing = "; ".join(
            f"{h}x{w} (height x width): {n} image(s), e.g. {examples[(h, w)]}" for (h, w), n in counts.most_common(4)
        )
        raise NcsnError(
            f"the images have different sizes after cropping ({listing}); set 'image_size' (e.g. 32) so that every "
            "image is resized to the same square size, and 'crop' ('square' or a side length) to keep proportions"
        )


def read_image(
    path: Path, crop: int | str | None, image_size: int | None, channels: int, resize_filter: str
) -> np.ndarray:
    """One image file as uint8 (H, W, C) after crop/resize/conversion; a broken file is an error naming it."""
    try:
        with Image.open(path) as image:
            image.load()
            return transform_image(image, crop, image_size, channels, resize_filter)
    except NcsnError as err:
        raise NcsnError(f"cannot use image {path}: {err}") from err
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
        raise broken(path, err) from err


def read_images(
    paths: list[Path],
    crop: int | str | None,
    image_size: int | None,
    channels: int,
    resize_filter: str,
    workers: int | None,
) -> np.ndarray:
    """All ``paths`` as one uint8 (N, H, W, C) array, in order; sizes are checked from the headers first."""
    with ThreadPoolExecutor(max_workers=worker_count(workers)) as pool:
        check_sizes(paths, crop, image_size, pool)
        return np.stack(list(pool.map(lambda path: read_image(path, crop, image_size, channels, resize_filter), paths)))
