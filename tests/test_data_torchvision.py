"""MNIST and CIFAR-10 read from small fake data laid out on disk exactly as torchvision expects."""

import gzip
import pickle
import struct

import numpy as np
import pytest
from helpers import prepare

from ncsn.data import load_meta, load_split
from ncsn.errors import NcsnError

RNG = np.random.default_rng(0)


def write_idx(path, array):
    """An idx file as MNIST ships it: magic (0, 0, 0x08 = ubyte, ndim), big-endian dims, the bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_mnist(tmp_path):
    raw = tmp_path / "mnist_root" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    data = {
        "train": (RNG.integers(0, 256, (12, 28, 28), dtype=np.uint8), RNG.integers(0, 10, 12).astype(np.uint8)),
        "t10k": (RNG.integers(0, 256, (5, 28, 28), dtype=np.uint8), RNG.integers(0, 10, 5).astype(np.uint8)),
    }
    for prefix, (images, labels) in data.items():
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return tmp_path / "mnist_root", data


def test_mnist_from_idx_files(fake_mnist, tmp_path):
    root, data = fake_mnist
    meta = prepare("mnist", {"source": "mnist", "root": str(root)}, tmp_path / "out")
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = load_split(tmp_path / "out" / f"{split}.npz")
        assert images.shape == (len(data[prefix][0]), 28, 28, 1)
        assert np.array_equal(images[..., 0], data[prefix][0]) and np.array_equal(
            labels, data[prefix][1].astype(np.int64)
        )
    assert meta["counts"] == {"train": 12, "test": 5} and meta["num_classes"] == 10


def test_mnist_resized_to_32(fake_mnist, tmp_path):
    root, data = fake_mnist
    prepare("mnist32", {"source": "mnist", "root": str(root), "image_size": 32}, tmp_path / "out")
    images, _ = load_split(tmp_path / "out" / "test.npz")
    assert images.shape == (5, 32, 32, 1)
    assert abs(float(images.mean()) - float(data["t10k"][0].mean())) < 3  # bilinear resizing keeps the mean


def test_mnist_missing_files_and_download_off(tmp_path):
    with pytest.raises(NcsnError) as err:
        prepare("mnist", {"source": "mnist", "root": str(tmp_path / "nowhere")}, tmp_path / "out")
    message = str(err.value)
    assert f"{tmp_path / 'nowhere' / 'MNIST' / 'raw'}" in message and "train-images-idx3-ubyte" in message
    assert "4 of the 4 files missing" in message
    assert "set download: true" in message and "(download is off)" in message
    assert not (tmp_path / "out").exists()


def test_mnist_says_what_it_found_and_what_is_missing(fake_mnist, tmp_path):
    root, _ = fake_mnist
    (root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(NcsnError) as err:
        prepare("mnist", {"source": "mnist", "root": str(root)}, tmp_path / "out")
    message = str(err.value)
    assert "1 of the 4 files missing (t10k-labels-idx1-ubyte" in message
    assert f"found train-images-idx3-ubyte ({root / 'MNIST' / 'raw' / 'train-images-idx3-ubyte'})" in message


@pytest.mark.parametrize("layout", ["torchvision", "flat"])
def test_mnist_from_gz_files_of_any_compression(fake_mnist, tmp_path, layout):
    """Recompressed .gz files (other bytes, so another MD5 than torchvision's downloads) read as they are,
    in torchvision's MNIST/raw or directly in root, as the shared copy of the real MNIST lies."""
    root, data = fake_mnist
    raw = root / "MNIST" / "raw"
    target = raw if layout == "torchvision" else tmp_path / "flat"
    target.mkdir(exist_ok=True)
    for path in sorted(raw.glob("*-ubyte")):
        (target / f"{path.name}.gz").write_bytes(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))
        path.unlink()
    where = root if layout == "torchvision" else target
    meta = prepare("mnist", {"source": "mnist", "root": str(where)}, tmp_path / "out")
    images, labels = load_split(tmp_path / "out" / "train.npz")
    assert np.array_equal(images[..., 0], data["train"][0]) and np.array_equal(labels, data["train"][1])
    assert meta["files"]["t10k-images-idx3-ubyte"] == "t10k-images-idx3-ubyte.gz"


def test_mnist_without_root_key(tmp_path):
    with pytest.raises(NcsnError, match="datasets.mnist.root: source mnist reads its files from `root`"):
        prepare("mnist", {"source": "mnist"}, tmp_path / "out")


def test_mnist_corrupt_idx_file(fake_mnist, tmp_path):
    root, _ = fake_mnist
    (root / "MNIST" / "raw" / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08")
    with pytest.raises(NcsnError, match="unreadable or corrupt"):
        prepare("mnist", {"source": "mnist", "root": str(root)}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.fixture
def fake_cifar(tmp_path):
    folder = tmp_path / "cifar_root" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = {}
    for name, n in [(f"data_batch_{k}", 3) for k in range(1, 6)] + [("test_batch", 4)]:
        images = RNG.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        labels = RNG.integers(0, 10, n).tolist()
        # CIFAR-10 rows are the red plane, then green, then blue, each 32x32 row-major
        rows = images.transpose(0, 3, 1, 2).reshape(n, 3072)
        with open(folder / name, "wb") as handle:
            pickle.dump(
                {
                    "batch_label": name,
                    "labels": labels,
                    "data": rows,
                    "filenames": [f"{name}_{i}.png" for i in range(n)],
                },
                handle,
            )
        batches[name] = (images, labels)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump(
            {
                "label_names": [
                    "airplane",
                    "automobile",
                    "bird",
                    "cat",
                    "deer",
                    "dog",
                    "frog",
                    "horse",
                    "ship",
                    "truck",
                ],
                "num_vis": 3072,
            },
            handle,
        )
    return tmp_path / "cifar_root", batches


def test_cifar10_from_pickled_batches(fake_cifar, tmp_path):
    root, batches = fake_cifar
    meta = prepare("cifar10", {"source": "cifar10", "root": str(root), "flip": True}, tmp_path / "out")
    train_x, train_y = load_split(tmp_path / "out" / "train.npz")
    test_x, test_y = load_split(tmp_path / "out" / "test.npz")
    assert train_x.shape == (15, 32, 32, 3) and test_x.shape == (4, 32, 32, 3)
    assert np.array_equal(train_x, np.concatenate([batches[f"data_batch_{k}"][0] for k in range(1, 6)]))
    assert train_y.tolist() == sum((batches[f"data_batch_{k}"][1] for k in range(1, 6)), [])
    assert np.array_equal(test_x, batches["test_batch"][0]) and test_y.tolist() == batches["test_batch"][1]
    assert meta["classes"][0] == "airplane" and meta["resolved_settings"]["flip"] is True
    assert load_meta(tmp_path / "out")["shape"] == [32, 32, 3]


def test_cifar10_grey_conversion(fake_cifar, tmp_path):
    root, batches = fake_cifar
    prepare("cifar_grey", {"source": "cifar10", "root": str(root), "channels": 1}, tmp_path / "out")
    test_x, _ = load_split(tmp_path / "out" / "test.npz")
    rgb = batches["test_batch"][0].astype(np.float64)
    luma = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114  # ITU-R 601-2, as PIL's "L"
    assert test_x.shape == (4, 32, 32, 1) and np.abs(test_x[..., 0] - luma).max() <= 1


def test_cifar10_missing_batch(fake_cifar, tmp_path):
    root, _ = fake_cifar
    (root / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(NcsnError) as err:
        prepare("cifar10", {"source": "cifar10", "root": str(root)}, tmp_path / "out")
    assert (
        "data_batch_3" in str(err.value)
        and "cifar-10-python.tar.gz" in str(err.value)
        and "download: true" in str(err.value)
    )


def test_cifar10_corrupt_batch_is_named(fake_cifar, tmp_path):
    root, _ = fake_cifar
    (root / "cifar-10-batches-py" / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(NcsnError, match=r"CIFAR-10 file .*test_batch is unreadable or corrupt"):
        prepare("cifar10", {"source": "cifar10", "root": str(root)}, tmp_path / "out")
    assert not (tmp_path / "out").exists()
