"""CelebA: the paper's centre crop 140 + resize 32 on synthetic 178x218 images, torchvision and folder layouts, errors."""

import numpy as np
import pytest
from helpers import prepare
from PIL import Image

from ncsn.data import load_split
from ncsn.errors import NcsnError

WIDTH, HEIGHT = 178, 218  # aligned CelebA images


def coordinate_image(shift=0):
    """Red = column, green = row (mod 256), blue = a per-image constant: the crop window can be read off."""
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    return np.stack([cols % 256, rows % 256, np.full_like(rows, shift)], axis=-1).astype(np.uint8)


def framed_image():
    """White 140x140 centre (rows 39..178, columns 19..158) inside a black frame."""
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    image[39:179, 19:159] = 255
    return image


def test_centre_crop_window_matches_torchvision_geometry(tmp_path):
    root = tmp_path / "faces"
    root.mkdir()
    for k in range(10):
        Image.fromarray(coordinate_image(k)).save(root / f"{k:06d}.png")
    prepare(
        "celeba140", {"source": "celeba", "root": str(root), "image_size": 140, "test_fraction": 0.2}, tmp_path / "out"
    )
    images, _ = load_split(tmp_path / "out" / "train.npz")
    assert images.shape == (8, 140, 140, 3)
    # top-left of the window is (row 39, column 19) = round((218-140)/2), round((178-140)/2)
    assert tuple(images[0, 0, 0, :2]) == (19, 39) and tuple(images[0, 139, 139, :2]) == (158, 178)


def test_crop_then_resize_to_32_keeps_only_the_centre(tmp_path):
    root = tmp_path / "faces"
    root.mkdir()
    for k in range(5):
        Image.fromarray(framed_image()).save(root / f"{k:06d}.png")
    meta = prepare("celeba", {"source": "celeba", "root": str(root), "test_fraction": 0.2}, tmp_path / "out")
    images, labels = load_split(tmp_path / "out" / "train.npz")
    assert images.shape == (4, 32, 32, 3) and np.all(images == 255) and np.all(labels == -1)
    assert meta["preprocessing"][:2] == ["centre crop 140x140", "resize to 32x32 (bilinear, PIL)"]
    assert meta["layout"] == "folder"


def test_torchvision_layout_uses_the_official_partition(tmp_path):
    base = tmp_path / "root" / "celeba"
    (base / "img_align_celeba").mkdir(parents=True)
    codes = [0, 0, 0, 1, 2, 2, 0]
    for k in range(len(codes)):
        image = framed_image()
        image[39:179, 19:159] = 100 + 20 * k  # each image's centre has its own grey level
        Image.fromarray(image).save(base / "img_align_celeba" / f"{k + 1:06d}.jpg", quality=95)
    (base / "list_eval_partition.txt").write_text("".join(f"{k + 1:06d}.jpg {c}\n" for k, c in enumerate(codes)))
    meta = prepare("celeba", {"source": "celeba", "root": str(tmp_path / "root"), "flip": True}, tmp_path / "out")
    train_x, _ = load_split(tmp_path / "out" / "train.npz")
    test_x, _ = load_split(tmp_path / "out" / "test.npz")
    assert meta["counts"] == {"train": 4, "test": 2} and meta["layout"] == "torchvision"
    assert train_x.shape == (4, 32, 32, 3) and meta["resolved_settings"]["flip"] is True

    def image_ids(x):
        # the black frame is cropped away: even the outermost pixels keep the centre's grey level
        assert np.all(np.abs(x.astype(int) - x[:, 16:17, 16:17].astype(int)) <= 6)
        return np.round((x[:, 16, 16, 0].astype(float) - 100) / 20).astype(int).tolist()

    assert image_ids(train_x) == [0, 1, 2, 6] and image_ids(test_x) == [4, 5]


def test_partition_naming_missing_images(tmp_path):
    base = tmp_path / "root" / "celeba"
    (base / "img_align_celeba").mkdir(parents=True)
    Image.fromarray(framed_image()).save(base / "img_align_celeba" / "000001.jpg")
    (base / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 2\n")
    with pytest.raises(
        NcsnError, match=r"1 image\(s\) listed in .*list_eval_partition.txt are missing .* \(e\.g\. 000002\.jpg\)"
    ):
        prepare("celeba", {"source": "celeba", "root": str(tmp_path / "root")}, tmp_path / "out")


def test_missing_celeba_says_where_and_how(tmp_path):
    with pytest.raises(NcsnError) as err:
        prepare("celeba", {"source": "celeba", "root": str(tmp_path / "nothing")}, tmp_path / "out")
    message = str(err.value)
    for needle in (
        "CelebA not found under",
        "celeba/img_align_celeba/",
        "list_eval_partition.txt",
        "img_align_celeba.zip",
        "download: true",
    ):
        assert needle in message
    assert not (tmp_path / "out").exists()


def test_celeba_corrupt_jpeg_is_named(tmp_path):
    root = tmp_path / "faces"
    root.mkdir()
    for k in range(4):
        Image.fromarray(framed_image()).save(root / f"{k:06d}.jpg")
    (root / "000002.jpg").write_bytes(b"garbage")
    with pytest.raises(NcsnError, match=r"000002\.jpg is unreadable or corrupt"):
        prepare("celeba", {"source": "celeba", "root": str(root), "test_fraction": 0.25}, tmp_path / "out")
