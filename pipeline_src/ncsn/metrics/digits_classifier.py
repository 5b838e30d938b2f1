"""A small CNN classifier for 8x8 grey digits: the embedded default's feature extractor for FID/IS.

Its logits serve the Inception Score, its penultimate layer (before the ReLU) the FID, in the
role Inception-v3's logits and pool features play for real images. The workflow trains it once on
the digits training split (``train-extractor``) and records its test accuracy and the share of
test digits it recognises (softmax maximum >= 0.9), the real-data yardstick for samples' share.
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
from ncsn.settings import check_block

FORMAT = "ncsn-digits-extractor"
FORMAT_VERSION = 1
IMAGE_SHAPE = (8, 8, 1)  # H, W, C of the digits the classifier reads
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


class DigitsNet(nn.Module):
    """conv16-conv32-pool-conv64-pool -> linear ``feature_dim`` (penultimate) -> ReLU -> dropout -> linear logits."""

    def __init__(self, feature_dim: int, num_classes: int, dropout: float):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 4x4
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 2x2
            nn.Flatten(),
            nn.Linear(64 * 2 * 2, feature_dim),
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(dropout), nn.Linear(feature_dim, num_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``: float (B, 1, 8, 8) in [0, 1] -> (penultimate features (B, D), logits (B, classes))."""
        features = self.body(x)
        return features, self.head(features)


def to_input(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (N, 8, 8, 1) NHWC -> float (N, 1, 8, 8) in [0, 1]."""
    x = torch.as_tensor(images)
    return x.permute(0, 3, 1, 2).float() / 255.0


def check_images(images: np.ndarray, what: str) -> None:
    if images.dtype != np.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != IMAGE_SHAPE:
        raise NcsnError(
            f"{what}: the digits extractor reads uint8 images of shape (N, 8, 8, 1), got {images.dtype} {images.shape}; "
            "use the digits data set with it, or the inception extractor for other images"
        )


def train_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The training settings with defaults filled in, checked as the workflow checks ``extractors.<name>``."""
    block = check_block("extractor", {"kind": "digits", **settings})
    return {key: block[key] for key in TRAIN_KEYS}


@torch.no_grad()
def accuracy(model: DigitsNet, images: np.ndarray, labels: np.ndarray, batch_size: int = 512) -> float:
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
def recognisable_share(model: DigitsNet, images: np.ndarray, batch_size: int = 512) -> float:
    """Share of ``images`` (uint8 NHWC) that :func:`recognisable` accepts."""
    count = 0
    for start in range(0, len(images), batch_size):
        _, logits = model(to_input(images[start : start + batch_size]))
        count += int(recognisable(logits).sum())
    return count / len(images)


def _fit(
    model: DigitsNet, x_all: torch.Tensor, y_all: torch.Tensor, opts: dict[str, Any], generator: torch.Generator
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
) -> tuple[DigitsNet, dict[str, Any]]:
    """Train with Adam + cross-entropy on ``train``; returns the model and a report with the test accuracy.

    ``opts`` are the filled training settings (:func:`train_settings`). Raises NcsnError (before
    training) on wrong data, and after training when the test accuracy is below ``min_accuracy``:
    a weak classifier would make every FID/IS number meaningless.
    """
    (x_train, y_train), (x_test, y_test) = train, test
    check_images(x_train, "training split")
    check_images(x_test, "test split")
    for name, labels in (("training", y_train), ("test", y_test)):
        if labels.min() < 0 or labels.max() >= opts["num_classes"]:
            raise NcsnError(f"{name} labels must lie in 0..{opts['num_classes'] - 1} to train the digits extractor")
    generator = torch.Generator().manual_seed(int(opts["seed"]))
    with torch.random.fork_rng(devices=[]):  # seeds init and dropout without touching the caller's RNG
        torch.manual_seed(int(opts["seed"]))
        model = DigitsNet(opts["feature_dim"], opts["num_classes"], opts["dropout"])
        losses = _fit(model, to_input(x_train), torch.as_tensor(y_train), opts, generator)
    model.eval()
    report = {
        "test_accuracy": accuracy(model, x_test, y_test),
        "train_accuracy": accuracy(model, x_train, y_train),
        "test_recognisable": recognisable_share(model, x_test),
        "num_train": int(len(x_train)),
        "num_test": int(len(x_test)),
        "final_train_loss": losses[-1],
        "min_accuracy": float(opts["min_accuracy"]),
        "settings": opts,
    }
    if report["test_accuracy"] < opts["min_accuracy"]:
        raise NcsnError(
            f"the digits extractor reached only {report['test_accuracy']:.3f} test accuracy (< min_accuracy "
            f"{opts['min_accuracy']}); train longer (extractors.digits.epochs) or check the data"
        )
    return model, report


def save_classifier(path: str | os.PathLike, model: DigitsNet, report: dict[str, Any]) -> None:
    """Save weights and architecture (a plain dict, loadable with ``weights_only=True``), atomically."""
    opts = report["settings"]
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "arch": {"feature_dim": opts["feature_dim"], "num_classes": opts["num_classes"], "dropout": opts["dropout"]},
        "state_dict": model.state_dict(),
        "test_accuracy": report["test_accuracy"],
        "test_recognisable": report["test_recognisable"],
    }
    save_torch(path, payload)


def load_classifier(path: str | os.PathLike) -> tuple[DigitsNet, dict[str, Any]]:
    """Load a saved classifier in eval mode; returns (model, {arch, test_accuracy, test_recognisable}).

    ``test_recognisable`` is None for a file saved before it was recorded.
    """
    path = Path(path)
    if not path.is_file():
        raise NcsnError(
            f"digits extractor model {path} does not exist; train it with "
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
            f"{path} is not a digits extractor saved by train-extractor (format {FORMAT} v{FORMAT_VERSION})"
        )
    model = DigitsNet(**payload["arch"])
    model.load_state_dict(payload["state_dict"])
    model.eval().requires_grad_(False)
    return model, {
        "arch": payload["arch"],
        "test_accuracy": payload["test_accuracy"],
        "test_recognisable": payload.get("test_recognisable"),
    }
