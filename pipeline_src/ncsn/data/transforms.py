"""Image preprocessing shared by every source: centre crop, resize, grey/RGB conversion (via PIL, as torchvision)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ncsn.errors import NcsnError

FILTERS = {
    "nearest": Image.NEAREST,
    "bilinear": Image.BILINEAR,
    "bicubic": Image.BICUBIC,
    "lanczos": Image.LANCZOS,
    "box": Image.BOX,
}
MODES = {1: "L", 3: "RGB"}


def resample_filter(name: str) -> int:
    if name not in FILTERS:
        raise NcsnError(f"resize_filter '{name}' is not known; use one of {', '.join(FILTERS)}")
    return FILTERS[name]


def crop_box(width: int, height: int, crop: int | str | None) -> tuple[int, int, int, int] | None:
    """Box (left, top, right, bottom) of a centred crop, placed as torchvision's CenterCrop does.

    ``crop`` is a side length in pixels, ``"square"`` (the largest centred square) or None (no crop).
    Returns None when no crop applies; raises when the image is smaller than the crop.
    """
    if crop is None:
        return None
    side = min(width, height) if crop == "square" else crop
    if not isinstance(side, int):
        raise NcsnError(f"setting 'crop' must be a side length in pixels, 'square' or null, got {crop!r}")
    if side > width or side > height:
        raise NcsnError(
            f"a {side}x{side} centre crop does not fit in a {width}x{height} image; lower 'crop' or use crop: square"
        )
    top = int(round((height - side) / 2.0))
    left = int(round((width - side) / 2.0))
    return left, top, left + side, top + side


def transform_image(
    image: Image.Image, crop: int | str | None, image_size: int | None, channels: int, resize_filter: str
) -> np.ndarray:
    """Crop, resize to ``image_size`` x ``image_size`` and convert to ``channels``; returns uint8 (H, W, C)."""
    image = image.convert(MODES[channels])  # palette/alpha/16-bit/CMYK all end up as L or RGB
    box = crop_box(image.width, image.height, crop)
    if box is not None:
        image = image.crop(box)
    if image_size is not None and image.size != (image_size, image_size):
        image = image.resize((image_size, image_size), resample=resample_filter(resize_filter))
    array = np.asarray(image, dtype=np.uint8)
    return array[..., None] if array.ndim == 2 else array


def describe(crop: int | str | None, image_size: int | None, channels: int, resize_filter: str) -> list[str]:
    """The preprocessing steps of ``transform_image`` in words, for meta.json."""
    steps = []
    if crop is not None:
        steps.append(f"centre crop {crop}x{crop}" if isinstance(crop, int) else "centre crop to the largest square")
    if image_size is not None:
        steps.append(f"resize to {image_size}x{image_size} ({resize_filter}, PIL)")
    steps.append(f"convert to {MODES[channels]} ({channels} channel{'s' if channels > 1 else ''})")
    return steps


def convert_array(
    images: np.ndarray, image_size: int | None, channels: int, resize_filter: str
) -> tuple[np.ndarray, list[str]]:
    """Resize/convert an in-memory uint8 NHWC array when the settings differ from its native form."""
    _, height, width, native_channels = images.shape
    size = image_size if image_size is not None and (height, width) != (image_size, image_size) else None
    if size is None and channels == native_channels:
        return images, []
    mode = MODES[native_channels]
    converted = [
        transform_image(
            Image.fromarray(img[..., 0] if native_channels == 1 else img, mode), None, size, channels, resize_filter
        )
        for img in images
    ]
    out = np.stack(converted) if converted else np.zeros((0, size or height, size or width, channels), np.uint8)
    return out, describe(None, size, channels, resize_filter)
