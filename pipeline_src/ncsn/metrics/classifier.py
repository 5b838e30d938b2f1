"""A small CNN classifier of a labelled data set: the feature extractor for FID/IS without Inception.

Its logits serve the Inception Score, its penultimate layer (before the ReLU) the FID, in the
role Inception-v3's logits and pool features play for real images. The workflow trains it once on
the training split of the configured data set at that set's own size and channels (8x8x1 digits,
28x28x1 MNIST, 32x32x3 CIFAR-10; ``train-extractor``) and records its test accuracy and the share
of test images it recognises (softmax maximum >= 0.9), the real-data yardstick for samples' share.
Numbers in its features are comparable only with numbers in the same network's features.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ncsn.errors import NcsnError
from ncsn.io import save_torch

FORMAT = "ncsn-classifier-extractor"
FORMAT_VERSION = 2  # 1: the 8x8 digits classifier before it read other sizes (retrain it)
RECOGNISABLE_PROBABILITY = 0.9  # an image is "recognisable" when some class gets at least this probability

# Training settings of the config block ``extractors.<name>`` (defaults: ncsn.settings, block ``extractor``).
TRAIN_KEYS = (
    "epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "dropout",
    "feature_dim",
    "num_classes",
    "seed",
    "min_accuracy",
)


class ClassifierNet(nn.Module):
    """conv16-conv32-pool-conv64-pool -> linear ``feature_dim`` (penultimate) -> ReLU -> dropout -> linear logits.

    ``image_shape`` is (H, W, C) of the images it reads; at 8x8x1 this is the digits classifier
    the embedded default has always used (same layers, same initialisation order).
    """

    def __init__(self, image_shape: tuple[int, int, int], feature_dim: int, num_classes: int, dropout: float):
        super().__init__()
        height, width, channels = image_shape
        self.image_shape = (int(height), int(width), int(channels))
        self.body = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * (height // 4) * (width // 4), feature_dim),
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(dropout), nn.Linear(feature_dim, num_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``: float (B, C, H, W) in [0, 1] -> (penultimate features (B, D), logits (B, classes))."""
        features = self.body(x)
        return features, self.head(features)

    def adapt(self, x: torch.Tensor) -> torch.Tensor:
        """Float (B, 1 or 3, H, W) -> the channels it reads: RGB averaged to grey (grey replicated to RGB averages
        back exactly), grey repeated to RGB; always a fresh tensor in the standard layout, whose convolutions
        give the same numbers whatever layout the input came in."""
        if self.image_shape[2] == 1:
            return x.mean(dim=1, keepdim=True)
        return (x if x.shape[1] == 3 else x.expand(-1, 3, -1, -1)).contiguous(memory_format=torch.contiguous_format)


def to_input(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, C) NHWC -> float (N, C, H, W) in [0, 1]."""
    x = torch.as_tensor(images)
    return x.permute(0, 3, 1, 2).float() / 255.0


def check_images(images: np.ndarray, what: str, image_shape: tuple[int, int, int] | None = None) -> None:
    """Raise unless ``images`` are uint8 (N, H, W, 1 or 3), of ``image_shape``'s size when given."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise NcsnError(
            f"{what}: the classifier extractor reads uint8 images (N, H, W, 1 or 3), got {images.dtype} {images.shape}"
        )
    if image_shape is not None and tuple(images.shape[1:3]) != tuple(image_shape[:2]):
        raise NcsnError(
            f"{what}: this classifier extractor reads {image_shape[0]}x{image_shape[1]} images (the data set it was "
            f"trained on), got {images.shape[1]}x{images.shape[2]}; score them with an extractor trained on their own "
            "data set, or with inception"
        )


def train_settings(block: dict[str, Any]) -> dict[str, Any]:
    """The training keys of a filled classifier extractor block (``train-extractor``'s envelope holds one)."""
    return {key: block[key] for key in TRAIN_KEYS}


@torch.no_grad()
def accuracy(model: ClassifierNet, images: np.ndarray, labels: np.ndarray, batch_size: int = 512) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(images), batch_size):
        _, logits = model(to_input(images[start : start + batch_size]))
        correct += int((logits.argmax(1).numpy() == labels[start : start + batch_size]).sum())
    return correct / len(images)


def recognisable(logits: torch.Tensor) -> torch.Tensor:
    """Which images the classifier assigns to some class with probability >= RECOGNISABLE_PROBABILITY (bool (B,))."""
    return logits.softmax(dim=1).amax(dim=1) >= RECOGNISABLE_PROBABILITY


@torch.no_grad()
def recognisable_share(model: ClassifierNet, images: np.ndarray, batch_size: int = 512) -> float:
    """Share of ``images`` (uint8 NHWC) that :func:`recognisable` accepts."""
    count = 0
    for start in range(0, len(images), batch_size):
        _, logits = model(to_input(images[start : start + batch_size]))
        count += int(recognisable(logits).sum())
    return count / len(images)


def _fit(
    model: ClassifierNet, x_all: torch.Tensor, y_all: torch.Tensor, opts: dict[str, Any], generator: torch.Generator
) -> list[float]:
    """Adam + cross-entropy for ``opts['epochs']`` epochs; returns the mean training loss per epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=opts["lr"], weight_decay=opts["weight_decay"])
    losses = []
    for _ in range(int(opts["epochs"])):
        model.train()
        order = torch.randperm(len(x_all), generator=generator)
        total = 0.0
        for start in range(0, len(order), int(opts["batch_size"])):
            idx = order[start : start + int(opts["batch_size"])]
            _, logits = model(x_all[idx])
            loss = nn.functional.cross_entropy(logits, y_all[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / len(order))
    return losses


def train_classifier(
    train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], opts: dict[str, Any]
) -> tuple[ClassifierNet, dict[str, Any]]:
    """Train with Adam + cross-entropy on ``train``; returns the model and a report with the test accuracy.

    ``opts`` are the filled training settings (:func:`train_settings`). Raises NcsnError (before
    training) on wrong data, and after training when the test accuracy is below ``min_accuracy``:
    a weak classifier would make every FID/IS number meaningless.
    """
    (x_train, y_train), (x_test, y_test) = train, test
    check_images(x_train, "training split")
    check_images(x_test, "test split", x_train.shape[1:])
    for name, labels in (("training", y_train), ("test", y_test)):
        if labels.min() < 0 or labels.max() >= opts["num_classes"]:
            raise NcsnError(
                f"{name} labels must lie in 0..{opts['num_classes'] - 1} to train the classifier extractor (an unlabelled data set cannot train one)"
            )
    generator = torch.Generator().manual_seed(int(opts["seed"]))
    with torch.random.fork_rng(devices=[]):  # seeds init and dropout without touching the caller's RNG
        torch.manual_seed(int(opts["seed"]))
        model = ClassifierNet(tuple(x_train.shape[1:]), opts["feature_dim"], opts["num_classes"], opts["dropout"])
        losses = _fit(model, to_input(x_train), torch.as_tensor(y_train), opts, generator)
    model.eval()
    report = {
        "test_accuracy": accuracy(model, x_test, y_test),
        "train_accuracy": accuracy(model, x_train, y_train),
        "test_recognisable": recognisable_share(model, x_test),
        "num_train": int(len(x_train)),
        "num_test": int(len(x_test)),
        "image_shape": list(x_train.shape[1:]),
        "final_train_loss": losses[-1],
        "min_accuracy": float(opts["min_accuracy"]),
        "settings": opts,
    }
    if report["test_accuracy"] < opts["min_accuracy"]:
        raise NcsnError(
            f"the classifier extractor reached only {report['test_accuracy']:.4f} test accuracy (< min_accuracy "
            f"{opts['min_accuracy']}); train longer (extractors.NAME.epochs) or check the data"
        )
    return model, report


def save_classifier(path: str | os.PathLike, model: ClassifierNet, report: dict[str, Any]) -> None:
    """Save weights and architecture (a plain dict, loadable with ``weights_only=True``), atomically."""
    opts = report["settings"]
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "arch": {
            "image_shape": list(model.image_shape),
            "feature_dim": opts["feature_dim"],
            "num_classes": opts["num_classes"],
            "dropout": opts["dropout"],
        },
        "state_dict": model.state_dict(),
        "test_accuracy": report["test_accuracy"],
        "test_recognisable": report["test_recognisable"],
    }
    save_torch(path, payload)


def load_classifier(path: str | os.PathLike) -> tuple[ClassifierNet, dict[str, Any]]:
    """Load a saved classifier in eval mode; returns (model, {arch, test_accuracy, test_recognisable})."""
    path = Path(path)
    if not path.is_file():
        raise NcsnError(
            f"classifier extractor model {path} does not exist; train it with "
            f"`python -m ncsn train-extractor --train TRAIN.npz --test TEST.npz --out {path} --report ACCURACY.json`"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a corrupt or foreign file
        raise NcsnError(
            f"{path} is not a readable torch file ({err}); delete it and run train-extractor again"
        ) from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("version") != FORMAT_VERSION:
        raise NcsnError(
            f"{path} is not a classifier extractor saved by this version of train-extractor (format {FORMAT} "
            f"v{FORMAT_VERSION}); delete it and run train-extractor again (the workflow does so when it is missing)"
        )
    arch = payload["arch"]
    model = ClassifierNet(tuple(arch["image_shape"]), arch["feature_dim"], arch["num_classes"], arch["dropout"])
    model.load_state_dict(payload["state_dict"])
    model.eval().requires_grad_(False)
    return model, {
        "arch": payload["arch"],
        "test_accuracy": payload["test_accuracy"],
        "test_recognisable": payload["test_recognisable"],
    }
