"""Feature extractors for FID/IS, each seen through both libraries: torch-fidelity and clean-fid.

Two kinds, chosen by the config block ``extractors.<name>`` (``kind``):

- ``inception``: the standard Inception-v3 of FID/IS, from local weight files (nothing is
  downloaded): torch-fidelity's ``inception-v3-compat`` (2048-d pool features for FID,
  ``logits_unbiased`` for IS) and clean-fid's TorchScript network (its "clean" PIL-bicubic resize
  to 299x299).
- ``classifier`` (``digits``, its former name): the small classifier of
  :mod:`ncsn.metrics.classifier`, trained by the workflow on a labelled data set, registered with
  torch-fidelity as the custom extractor ``ncsn-classifier`` and passed to clean-fid as its
  ``custom_feat_extractor`` with an identity ``custom_fn_resize`` (it reads its data set's size).

:func:`check_extractor` validates the settings and finds the weight files without loading
anything, so commands fail before any work; :func:`build_extractor` loads the networks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torchvision.transforms
from cleanfid.downloads_helper import inception_url as CLEANFID_INCEPTION_URL
from cleanfid.fid import get_batch_features
from cleanfid.inception_torchscript import InceptionV3W
from cleanfid.resize import build_resizer
from torch_fidelity import FeatureExtractorBase, register_feature_extractor
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY
from torch_fidelity.utils import create_feature_extractor

from ncsn.errors import NcsnError
from ncsn.io import file_sha256
from ncsn.metrics import classifier
from ncsn.metrics.inception_files import CLEANFID_INCEPTION_FILE, TORCH_FIDELITY_INCEPTION_FILE, inception_paths
from ncsn.settings import check_block

KINDS = ("classifier", "inception")
TORCH_FIDELITY_CLASSIFIER = "ncsn-classifier"
TORCH_FIDELITY_INCEPTION = "inception-v3-compat"


class ClassifierFeatureExtractor(FeatureExtractorBase):
    """torch-fidelity wrapper of the classifier: uint8 (B, 1 or 3, H, W) -> penultimate features, logits."""

    def __init__(
        self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None, **kwargs: Any
    ):
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise NcsnError(
                "the classifier extractor needs feature_extractor_weights_path (the model.pt of train-extractor)"
            )
        self.net, self.info = classifier.load_classifier(feature_extractor_weights_path)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return "penultimate", "logits_unbiased"

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return {"isc": "logits_unbiased", "fid": "penultimate", "kid": "penultimate", "prc": "penultimate"}[metric]

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        return torch.zeros(1, 1, 8, 8, dtype=torch.uint8)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        height, width, _ = self.net.image_shape
        if x.dtype != torch.uint8 or x.dim() != 4 or tuple(x.shape[2:]) != (height, width):
            raise NcsnError(
                f"the classifier extractor reads uint8 (B, C, {height}, {width}) images, got {x.dtype} {tuple(x.shape)}"
            )
        features, logits = self.net(self.net.adapt(x.float()) / 255.0)
        out = {"penultimate": features, "logits_unbiased": logits}
        return tuple(out[name] for name in self.features_list)


class CleanFidClassifier(torch.nn.Module):
    """clean-fid ``custom_feat_extractor``: float (B, 3, H, W) in [0, 255] (its RGB tensors) -> penultimate features."""

    def __init__(self, net: classifier.ClassifierNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.net.adapt(x) / 255.0)[0]


if TORCH_FIDELITY_CLASSIFIER not in FEATURE_EXTRACTORS_REGISTRY:
    register_feature_extractor(TORCH_FIDELITY_CLASSIFIER, ClassifierFeatureExtractor)


def _missing_inception_message(missing: list[tuple[str, Path, str, str]]) -> str:
    lines = [
        "the inception extractor needs the standard Inception-v3 weights as local files (nothing is downloaded here):"
    ]
    for library, path, url, key in missing:
        lines.append(
            f"  - {library}: expected file {path.name} at {path} (the library normally fetches it from {url}); set {key} to its path"
        )
    lines.append(
        f"Download both files where the network allows, copy them here, and set extractors.<name>.weights to "
        f"{TORCH_FIDELITY_INCEPTION_FILE}; extractors.<name>.cleanfid_weights defaults to {CLEANFID_INCEPTION_FILE} in the same folder. "
        "Or use a classifier extractor (kind: classifier), which the workflow trains on a labelled data set."
    )
    return "\n".join(lines)


def check_extractor(settings: dict[str, Any], model_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Validate extractor settings and that its weight files exist; return the resolved settings.

    ``model_path``: the classifier's model file (required for classifier); for inception it overrides ``weights``.

    Raises NcsnError naming the missing file, where the libraries normally get it and the config key
    to set — cheap (no file is read), so commands call it before any work.
    """
    if not isinstance(settings, dict) or "kind" not in settings:
        raise NcsnError(f"extractor settings need kind: one of {', '.join(KINDS)}; got {settings!r}")
    given = (
        {**settings, "weights": str(model_path)}
        if settings["kind"] == "inception" and model_path is not None
        else settings
    )
    block = check_block("extractor", given)  # the schema's checks, the kind's defaults, the kind's current name
    kind = block["kind"]
    resolved: dict[str, Any] = {"kind": kind, "eval_batch_size": block["eval_batch_size"]}
    if kind == "classifier":
        if model_path is None:
            raise NcsnError(
                "the classifier extractor needs its model file (--extractor results/extractors/NAME/model.pt, written by train-extractor)"
            )
        if not Path(model_path).is_file():
            classifier.load_classifier(model_path)  # raises the message saying how to make it
        resolved["model"] = str(model_path)
        return resolved
    weights, cleanfid = inception_paths(settings, model_path)
    missing = []
    if not weights.is_file():
        missing.append(("torch-fidelity", weights, URL_INCEPTION_V3, "extractors.<name>.weights"))
    if not cleanfid.is_file():
        missing.append(("clean-fid", cleanfid, CLEANFID_INCEPTION_URL, "extractors.<name>.cleanfid_weights"))
    elif cleanfid.name != CLEANFID_INCEPTION_FILE:
        raise NcsnError(
            f"clean-fid loads its Inception from a file named exactly {CLEANFID_INCEPTION_FILE}; rename {cleanfid} accordingly"
        )
    if missing:
        raise NcsnError(_missing_inception_message(missing))
    resolved.update(weights=str(weights), cleanfid_weights=str(cleanfid))
    return resolved


def _grey_to_rgb(images: np.ndarray) -> np.ndarray:
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


@dataclass
class Extractor:
    """Both libraries' views of one feature extractor, on one device."""

    kind: str
    identity: dict[str, Any]  # recorded with every number computed with it
    torch_fidelity: FeatureExtractorBase  # features (FID layer, IS logits)
    cleanfid_model: Callable[[torch.Tensor], torch.Tensor]
    cleanfid_resize: Callable[[np.ndarray], np.ndarray]
    device: torch.device
    batch_size: int

    @property
    def classifies_data(self) -> bool:
        """Whether the IS logits are a classifier of the data's own classes, so "recognisable" means something."""
        return self.kind == "classifier"

    def check_images(self, images: np.ndarray, what: str) -> None:
        """Raise NcsnError unless ``images`` are uint8 NHWC this extractor can read."""
        if self.kind == "classifier":
            classifier.check_images(images, what, self.torch_fidelity.net.image_shape)
        elif images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise NcsnError(f"{what}: expected uint8 images (N, H, W, 1 or 3), got {images.dtype} {images.shape}")

    @torch.no_grad()
    def torch_fidelity_features(self, images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 NHWC batch -> (FID features, IS logits) on CPU, as torch-fidelity computes them."""
        x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
        if self.kind == "inception":
            x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        fid, logits = self.torch_fidelity(x.contiguous().to(self.device))
        return fid.cpu(), logits.cpu()

    def cleanfid_features(self, images: np.ndarray) -> np.ndarray:
        """uint8 NHWC batch -> FID features as clean-fid computes them (its ``ResizeDataset`` steps per image)."""
        to_tensor = torchvision.transforms.ToTensor()
        tensors = []
        for image in _grey_to_rgb(images):  # clean-fid reads images with PIL .convert("RGB")
            resized = self.cleanfid_resize(image)
            tensors.append(to_tensor(resized) * 255 if resized.dtype == np.uint8 else to_tensor(resized))
        return get_batch_features(torch.stack(tensors), self.cleanfid_model, self.device)


def build_extractor(settings: dict[str, Any], model_path: str | os.PathLike | None, device: torch.device) -> Extractor:
    """Load the extractor described by ``settings`` (see :func:`check_extractor`) onto ``device``."""
    opts = check_extractor(settings, model_path)
    kind = opts["kind"]
    if kind == "classifier":
        path = opts["model"]
        tf = create_feature_extractor(
            TORCH_FIDELITY_CLASSIFIER,
            ["penultimate", "logits_unbiased"],
            cuda=False,
            feature_extractor_weights_path=path,
            verbose=False,
        )
        clean_model: torch.nn.Module = CleanFidClassifier(tf.net)
        resize: Callable[[np.ndarray], np.ndarray] = lambda image: image  # noqa: E731 - keep the size (clean-fid custom_fn_resize)
        identity = {
            "kind": kind,
            "torch_fidelity": TORCH_FIDELITY_CLASSIFIER,
            "fid_feature": "penultimate",
            "is_feature": "logits_unbiased",
            "cleanfid": "custom_feat_extractor (same network), custom_fn_resize: identity",
            "model": path,
            "model_sha256": file_sha256(path),
            "test_accuracy": tf.info["test_accuracy"],
            "test_recognisable": tf.info["test_recognisable"],
            "image_shape": list(tf.net.image_shape),
        }
    else:
        try:
            tf = create_feature_extractor(
                TORCH_FIDELITY_INCEPTION,
                ["2048", "logits_unbiased"],
                cuda=False,
                feature_extractor_weights_path=opts["weights"],
                verbose=False,
            )
        except Exception as err:  # torch.load / load_state_dict raise several types for a wrong file
            raise NcsnError(
                f"{opts['weights']} is not torch-fidelity's {TORCH_FIDELITY_INCEPTION_FILE} ({err})"
            ) from err
        try:
            clean_model = InceptionV3W(str(Path(opts["cleanfid_weights"]).parent), download=False, resize_inside=False)
        except RuntimeError as err:
            raise NcsnError(f"{opts['cleanfid_weights']} is not clean-fid's TorchScript Inception ({err})") from err
        resize = build_resizer("clean")
        identity = {
            "kind": kind,
            "torch_fidelity": TORCH_FIDELITY_INCEPTION,
            "fid_feature": "2048",
            "is_feature": "logits_unbiased",
            "cleanfid": "InceptionV3W, mode clean (PIL bicubic resize to 299)",
            "model": opts["weights"],
            "model_sha256": file_sha256(opts["weights"]),
            "cleanfid_model": opts["cleanfid_weights"],
            "cleanfid_model_sha256": file_sha256(opts["cleanfid_weights"]),
        }
    identity["settings"] = {k: v for k, v in settings.items() if k not in ("weights", "cleanfid_weights")}
    tf = tf.to(device)
    clean_model = clean_model.to(device).eval()
    return Extractor(kind, identity, tf, clean_model, resize, device, opts["eval_batch_size"])
