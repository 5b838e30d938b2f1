"""Image folders the tests create: PNG/JPEG, grey/colour, with and without class folders, and every error."""

import numpy as np
import pytest
from helpers import prepare
from PIL import Image

from ncsn.data import load_meta, load_split
from ncsn.errors import NcsnError

RNG = np.random.default_rng(0)


def save(path, array, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return array


def both_splits(out):
    train_x, train_y = load_split(out / "train.npz")
    test_x, test_y = load_split(out / "test.npz")
    return np.concatenate([train_x, test_x]), np.concatenate([train_y, test_y])


def test_flat_png_colour_folder_is_centre_cropped_square(tmp_path):
    originals = [
        save(tmp_path / "img" / f"{k:02d}.png", RNG.integers(0, 256, (12, 18, 3), dtype=np.uint8)) for k in range(10)
    ]
    (tmp_path / "img" / "notes.txt").write_text("not an image")  # ignored
    (tmp_path / "img" / "._00.png").write_bytes(b"macOS AppleDouble companion")  # hidden: ignored
    meta = prepare("mine", {"source": "folder", "root": str(tmp_path / "img"), "test_fraction": 0.2}, tmp_path / "out")
    images, labels = both_splits(tmp_path / "out")
    assert images.shape == (10, 12, 12, 3) and np.all(labels == -1)
    # default crop 'square': the centred 12x12 window, columns 3..14 of 18
    expected = {img[:, 3:15].tobytes() for img in originals}
    assert {img.tobytes() for img in images} == expected
    assert meta["counts"] == {"train": 8, "test": 2} and not meta["labelled"] and meta["num_files"] == 10


def test_class_folders_mixed_png_jpeg_grey_and_colour(tmp_path):
    root = tmp_path / "classes"
    for k in range(6):
        save(root / "cats" / f"c{k}.png", RNG.integers(0, 256, (16, 16, 3), dtype=np.uint8))
        save(root / "dogs" / f"d{k}.jpg", np.full((20, 20), 200, np.uint8), quality=95)  # grey JPEG
        save(root / "dogs" / "more" / f"e{k}.JPEG", np.full((24, 24, 3), 40, np.uint8))  # nested, upper-case suffix
    meta = prepare(
        "pets",
        {"source": "folder", "root": str(root), "image_size": 8, "channels": 3, "test_fraction": 0.25},
        tmp_path / "out",
    )
    images, labels = both_splits(tmp_path / "out")
    assert images.shape == (18, 8, 8, 3) and meta["classes"] == ["cats", "dogs"] and meta["num_classes"] == 2
    assert np.bincount(labels).tolist() == [6, 12]
    _, test_y = load_split(tmp_path / "out" / "test.npz")
    assert np.bincount(test_y).tolist() == [1, 3] or np.bincount(test_y).tolist() == [2, 3]  # stratified, 4.5 -> 4 or 5
    grey = images[(labels == 1) & (images[:, 0, 0, 0] > 100)]
    assert len(grey) == 6 and np.all(np.abs(grey.astype(int) - 200) <= 2)
    assert np.array_equal(grey[..., 0], grey[..., 1])  # grey replicated into RGB


def test_colour_to_grey_and_determinism(tmp_path):
    root = tmp_path / "img"
    for k in range(8):
        save(root / f"{k}.png", RNG.integers(0, 256, (10, 10, 3), dtype=np.uint8))
    settings = {"source": "folder", "root": str(root), "channels": 1, "test_fraction": 0.25, "split_seed": 3}
    first = prepare("g", settings, tmp_path / "a")
    second = prepare("g", settings, tmp_path / "b")
    other = prepare("g", {**settings, "split_seed": 4}, tmp_path / "c")
    assert first["shape"] == [10, 10, 1]
    assert first["content_sha256"] == second["content_sha256"] != other["content_sha256"]


def test_mixed_sizes_need_image_size(tmp_path):
    root = tmp_path / "img"
    for k in range(4):
        save(root / f"small{k}.png", np.zeros((10, 10, 3), np.uint8))
    save(root / "big.png", np.zeros((14, 14, 3), np.uint8))
    with pytest.raises(NcsnError) as err:
        prepare("m", {"source": "folder", "root": str(root), "test_fraction": 0.2}, tmp_path / "out")
    assert "different sizes" in str(err.value) and "big.png" in str(err.value) and "set 'image_size'" in str(err.value)
    assert not (tmp_path / "out").exists()
    meta = prepare(
        "m", {"source": "folder", "root": str(root), "test_fraction": 0.2, "image_size": 6}, tmp_path / "out"
    )
    assert meta["shape"] == [6, 6, 3]


def test_crop_larger_than_an_image_names_it(tmp_path):
    root = tmp_path / "img"
    for k in range(3):
        save(root / f"ok{k}.png", np.zeros((20, 20, 3), np.uint8))
    save(root / "tiny.png", np.zeros((8, 30, 3), np.uint8))
    with pytest.raises(NcsnError, match=r"tiny\.png.*a 16x16 centre crop does not fit in a 30x8 image"):
        prepare("c", {"source": "folder", "root": str(root), "crop": 16, "test_fraction": 0.25}, tmp_path / "out")


def test_corrupt_image_is_named_and_nothing_written(tmp_path):
    root = tmp_path / "img"
    for k in range(4):
        save(root / f"{k}.png", np.zeros((8, 8, 3), np.uint8))
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is no JPEG")
    with pytest.raises(NcsnError) as err:
        prepare("x", {"source": "folder", "root": str(root), "test_fraction": 0.2}, tmp_path / "out")
    assert f"image file {root / 'broken.jpg'} is unreadable or corrupt" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img"]


def test_truncated_png_is_named(tmp_path):
    root = tmp_path / "img"
    for k in range(4):
        save(root / f"{k}.png", RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    data = (root / "3.png").read_bytes()
    (root / "3.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(NcsnError, match=r"3\.png is unreadable or corrupt"):
        prepare("x", {"source": "folder", "root": str(root), "test_fraction": 0.25}, tmp_path / "out")


def test_empty_and_missing_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(NcsnError, match=r"no images found in .*empty: expected files ending in \.png, \.jpg, \.jpeg"):
        prepare("e", {"source": "folder", "root": str(tmp_path / "empty")}, tmp_path / "out")
    with pytest.raises(NcsnError, match=r"data folder .*missing \(setting 'root'\) does not exist"):
        prepare("e", {"source": "folder", "root": str(tmp_path / "missing")}, tmp_path / "out")
    with pytest.raises(NcsnError, match="datasets.e.root: source folder reads its files from `root`"):
        prepare("e", {"source": "folder"}, tmp_path / "out")


def test_bad_folder_settings(tmp_path):
    (tmp_path / "img").mkdir()
    with pytest.raises(
        NcsnError,
        match="datasets.f.crop: 'centre' is not allowed; expected centre crop before resizing, a side length or `square`",
    ):
        prepare("f", {"source": "folder", "root": str(tmp_path / "img"), "crop": "centre"}, tmp_path / "out")
    with pytest.raises(NcsnError, match="datasets.f.workers: 0 is less than the minimum of 1"):
        prepare("f", {"source": "folder", "root": str(tmp_path / "img"), "workers": 0}, tmp_path / "out")
    with pytest.raises(
        NcsnError, match=r"datasets.f.download: source folder does not use it \(only mnist, cifar10, celeba\)"
    ):
        prepare("f", {"source": "folder", "root": str(tmp_path / "img"), "download": True}, tmp_path / "out")


def test_loose_images_beside_class_folders(tmp_path):
    root = tmp_path / "img"
    save(root / "loose.png", np.zeros((8, 8, 3), np.uint8))
    save(root / "a" / "1.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(NcsnError, match="holds images both directly"):
        prepare("l", {"source": "folder", "root": str(root)}, tmp_path / "out")


def test_meta_lists_preprocessing(tmp_path):
    root = tmp_path / "img"
    for k in range(5):
        save(root / f"{k}.png", np.zeros((9, 12, 3), np.uint8))
    prepare(
        "p",
        {"source": "folder", "root": str(root), "image_size": 4, "channels": 1, "test_fraction": 0.2},
        tmp_path / "out",
    )
    steps = load_meta(tmp_path / "out")["preprocessing"]
    assert steps[:3] == [
        "centre crop to the largest square",
        "resize to 4x4 (bilinear, PIL)",
        "convert to L (1 channel)",
    ]
