"""Small stand-ins for the paper's inputs, in their real on-disk formats, for the paper smoke run and tests.

Nothing here is downloaded. The files are read by the same code a user's files go through:

- MNIST in torchvision's raw layout (``MNIST/raw/*-idx?-ubyte`` and the ``.gz`` copies torchvision
  leaves beside them);
- CIFAR-10 as the pickled batches of ``cifar-10-batches-py`` (``data_batch_1..5``, ``test_batch``,
  ``batches.meta``);
- CelebA as ``celeba/img_align_celeba/*.jpg`` (178x218, as the aligned originals) with
  ``celeba/list_eval_partition.txt``;
- Inception-v3 with seeded random weights in both libraries' files: torch-fidelity's state dict of its own
  ``FeatureExtractorInceptionV3`` (``weights-inception-2015-12-05-6726825d.pth``) and clean-fid's
  TorchScript module (``inception-2015-12-05.pt``) whose ``layers`` are the same network's trunk.

Random weights make the metric values meaningless but exercise every line that real weights do.
"""

from __future__ import annotations

import gzip
import math
import pickle
import struct
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ncsn.data.celeba import IMAGE_DIR, PARTITION_FILE
from ncsn.data.torchvision_sets import CIFAR10_FOLDER, CIFAR10_META, CIFAR10_TEST, CIFAR10_TRAIN
from ncsn.metrics.inception_files import CLEANFID_INCEPTION_FILE, TORCH_FIDELITY_INCEPTION_FILE

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CELEBA_SIZE = (178, 218)  # width, height of the aligned CelebA JPEGs
# torch-fidelity's Inception trunk up to the 2048-d pool, in forward order (clean-fid's `layers`).
INCEPTION_TRUNK = (
    "Conv2d_1a_3x3",
    "Conv2d_2a_3x3",
    "Conv2d_2b_3x3",
    "MaxPool_1",
    "Conv2d_3b_1x1",
    "Conv2d_4a_3x3",
    "MaxPool_2",
    "Mixed_5b",
    "Mixed_5c",
    "Mixed_5d",
    "Mixed_6a",
    "Mixed_6b",
    "Mixed_6c",
    "Mixed_6d",
    "Mixed_6e",
    "Mixed_7a",
    "Mixed_7b",
    "Mixed_7c",
    "AvgPool",
)


def blob_images(count: int, height: int, width: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 (N, H, W, C) images of a few soft coloured blobs on a grey ramp: structured, unlike noise."""
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    images = np.empty((count, height, width, channels), np.float64)
    for n in range(count):
        image = np.broadcast_to((0.3 + 0.4 * y)[..., None], (height, width, channels)).copy()
        for _ in range(3):
            cy, cx, radius = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.25)
            blob = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * radius**2))
            image += blob[..., None] * rng.uniform(-0.6, 0.6, channels)
        images[n] = image
    return (np.clip(images, 0, 1) * 255).round().astype(np.uint8)


def write_idx(path: Path, array: np.ndarray) -> None:
    """An idx file as MNIST ships it (magic 0x00 0x00 0x08 ndim, big-endian dims, bytes), and its .gz copy."""
    data = (
        struct.pack(">BBBB", 0, 0, 8, array.ndim)
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.astype(np.uint8).tobytes()
    )
    path.write_bytes(data)
    with gzip.open(f"{path}.gz", "wb") as handle:
        handle.write(data)


def write_mnist(root: Path, n_train: int, n_test: int, seed: int = 0) -> Path:
    """MNIST in torchvision's raw layout under ``root/MNIST/raw``: 28x28 grey images, labels 0..9."""
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", n_train), ("t10k", n_test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", blob_images(count, 28, 28, 1, rng)[..., 0])
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(count) % 10)
    return root


def write_cifar10(root: Path, per_batch: int, n_test: int, seed: int = 0) -> Path:
    """CIFAR-10's python batches under ``root/cifar-10-batches-py``: rows of 3072 bytes (R, G, B planes)."""
    rng = np.random.default_rng(seed)
    folder = root / CIFAR10_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for name, count in [(b, per_batch) for b in CIFAR10_TRAIN] + [(b, n_test) for b in CIFAR10_TEST]:
        images = blob_images(count, 32, 32, 3, rng)
        entry = {
            "batch_label": f"{name} of the ncsn fixture",
            "labels": [int(k % 10) for k in range(count)],
            "data": images.transpose(0, 3, 1, 2).reshape(count, 3072),
            "filenames": [f"{name}_{k}.png" for k in range(count)],
        }
        with open(folder / name, "wb") as handle:
            pickle.dump(entry, handle, protocol=2)
    with open(folder / CIFAR10_META, "wb") as handle:
        pickle.dump(
            {"label_names": CIFAR10_CLASSES, "num_cases_per_batch": per_batch, "num_vis": 3072}, handle, protocol=2
        )
    return root


def write_celeba(root: Path, n_train: int, n_valid: int, n_test: int, seed: int = 0) -> Path:
    """CelebA in torchvision's layout under ``root/celeba``: 178x218 JPEGs 000001.jpg... and the partition file."""
    rng = np.random.default_rng(seed)
    base = root / "celeba"
    (base / IMAGE_DIR).mkdir(parents=True, exist_ok=True)
    codes = [0] * n_train + [1] * n_valid + [2] * n_test
    width, height = CELEBA_SIZE
    lines = []
    for k, (image, code) in enumerate(zip(blob_images(len(codes), height, width, 3, rng), codes), start=1):
        Image.fromarray(image).save(base / IMAGE_DIR / f"{k:06d}.jpg", quality=90)
        lines.append(f"{k:06d}.jpg {code}\n")
    (base / PARTITION_FILE).write_text("".join(lines))
    return root


def _torch_fidelity_inception() -> torch.nn.Module:
    """torch-fidelity's own FeatureExtractorInceptionV3, built without reading a weights file."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class Unloaded(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, strict=True, assign=False):  # the caller sets the weights
            return None

    with tempfile.TemporaryDirectory() as folder:
        placeholder = Path(folder) / "empty.pth"
        torch.save({}, placeholder)
        return Unloaded("ncsn-fixture", ["2048", "logits_unbiased"], feature_extractor_weights_path=str(placeholder))


def seed_inception(net: torch.nn.Module, seed: int, logit_scale: float = 8.0) -> None:
    """Seeded weights that keep activations O(1) through the depth: He-normal convolutions, identity batch norms.

    The classifier is scaled by ``logit_scale`` so that class probabilities differ between images (IS > 1).
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if name.endswith("conv.weight"):
                fan_in = tensor[0].numel()
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * math.sqrt(2.0 / fan_in))
            elif name == "fc.weight":
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * logit_scale / math.sqrt(tensor.shape[1]))
            elif name == "fc.bias":
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
            elif name.endswith(("bn.weight", "bn.running_var")):
                tensor.fill_(1.0)
            elif name.endswith(("bn.bias", "bn.running_mean")):
                tensor.zero_()


class CleanFidInception(torch.nn.Module):
    """The interface of clean-fid's TorchScript Inception: ``layers`` (normalised 299x299 -> 2048 pool) and
    ``forward(x in [0, 255], return_features)``, which resizes inside (clean-fid's legacy_tensorflow mode)."""

    def __init__(self, layers: torch.nn.Module, fc: torch.nn.Linear):
        super().__init__()
        self.layers = layers
        self.output = fc

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        features = self.layers((x - 128) / 128).flatten(1)
        return features if return_features else self.output(features)


def write_inception_weights(folder: Path, seed: int = 0) -> dict[str, Path]:
    """Both libraries' Inception files with the same seeded random weights; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    net = _torch_fidelity_inception()
    seed_inception(net, seed)
    torch_fidelity_file = folder / TORCH_FIDELITY_INCEPTION_FILE
    torch.save(net.state_dict(), torch_fidelity_file)
    trunk = torch.nn.Sequential(*(getattr(net, name) for name in INCEPTION_TRUNK))
    with warnings.catch_warnings():  # torch 2.9 deprecates TorchScript, but clean-fid's file is TorchScript
        warnings.filterwarnings("ignore", message=r"`torch.jit.script` is deprecated", category=FutureWarning)
        scripted = torch.jit.script(CleanFidInception(trunk, net.fc).eval())
    cleanfid_file = folder / CLEANFID_INCEPTION_FILE
    scripted.save(str(cleanfid_file))
    return {"torch_fidelity": torch_fidelity_file, "cleanfid": cleanfid_file}


def write_paper_inputs(out: Path, seed: int = 0) -> dict[str, Path]:
    """Every input `config/paper_smoke.yaml` points at, under ``out``: mnist, cifar10, celeba, weights."""
    out = Path(out)
    paths = {
        "mnist": write_mnist(out / "mnist", n_train=12, n_test=6, seed=seed),
        "cifar10": write_cifar10(out / "cifar10", per_batch=2, n_test=6, seed=seed + 1),
        "celeba": write_celeba(out / "celeba", n_train=12, n_valid=2, n_test=6, seed=seed + 2),
    }
    paths.update(write_inception_weights(out / "weights", seed=seed + 3))
    return paths
