"""Score networks and the one factory that builds them from a settings dict.

``build_model(spec)`` with ``spec["arch"]`` one of:

- ``refinenet``: CondRefineNet, the official NCSN network (conditional on the noise level);
  keys ``channels``, ``image_size``, ``ngf``, ``num_classes``.
- ``refinenet_re``: the [Re] report's RefineNet as its code ran (:mod:`ncsn.models.refinenet_re`); same keys.
- ``resnet``: conditional ResNet encoder-decoder of the [Re] report (Sec. 6.3); same keys.
- ``mlp``: unconditional MLP for 2-D toys; optional ``dim`` (2), ``hidden`` (128), ``layers`` (3).
- ``ssm_autoencoder``: unconditional ResNet auto-encoder of the SSM toy (paper Fig. 1);
  keys ``channels``, ``image_size``, optional ``ngf`` (32) and ``norm`` (``group``: the official
  GroupNorm(8) network, default; ``batch``: the [Re] report's BatchNorm variant).

Conditional models are called ``model(x, levels)``, x float (B, C, H, W) in [0, 1], levels long
(B,); unconditional ones ``model(x)`` (a ``levels`` argument is accepted and ignored).
"""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

from ncsn.errors import NcsnError
from ncsn.models.autoencoder import NORMS, ssm_autoencoder
from ncsn.models.mlp import MLPScore
from ncsn.models.refinenet import CondRefineNet
from ncsn.models.refinenet_re import ReRefineNet
from ncsn.models.resnet import cond_resnet

__all__ = ["ARCHS", "CONDITIONAL", "build_model", "count_parameters"]

MIN_IMAGE_SIZE = 4  # the networks halve the resolution at most twice

# arch -> (required keys, optional keys with defaults, builder taking the completed spec)
ARCHS: dict[str, tuple[tuple[str, ...], dict[str, Any], Callable[[dict], nn.Module]]] = {
    "refinenet": (
        ("channels", "image_size", "ngf", "num_classes"),
        {},
        lambda s: CondRefineNet(s["channels"], s["ngf"], s["num_classes"]),
    ),
    "refinenet_re": (
        ("channels", "image_size", "ngf", "num_classes"),
        {},
        lambda s: ReRefineNet(s["channels"], s["ngf"], s["num_classes"]),
    ),
    "resnet": (
        ("channels", "image_size", "ngf", "num_classes"),
        {},
        lambda s: cond_resnet(s["channels"], s["ngf"], s["num_classes"]),
    ),
    "mlp": ((), {"dim": 2, "hidden": 128, "layers": 3}, lambda s: MLPScore(s["dim"], s["hidden"], s["layers"])),
    "ssm_autoencoder": (
        ("channels", "image_size"),
        {"ngf": 32, "norm": "group"},
        lambda s: ssm_autoencoder(s["channels"], s["ngf"], s["norm"]),
    ),
}
CONDITIONAL = frozenset({"refinenet", "refinenet_re", "resnet"})  # archs whose forward needs ``levels``

CHOICES = {"norm": NORMS}  # the model keys that name a variant
# key -> smallest allowed value; every other model key is a positive integer
MINIMUM = {"channels": 1, "image_size": MIN_IMAGE_SIZE, "ngf": 1, "num_classes": 1, "dim": 1, "hidden": 1, "layers": 2}
# CondInstanceNorm++ takes an unbiased variance across channels: it needs at least two
MIN_NORM_FEATURES = 2


def _validate(spec: dict) -> dict:
    """Return ``spec`` completed with defaults, or raise NcsnError naming the bad key."""
    if not isinstance(spec, dict):
        raise NcsnError(f"model settings must be a mapping with an 'arch' key, got {type(spec).__name__}")
    arch = spec.get("arch")
    if arch not in ARCHS:
        raise NcsnError(f"model.arch is {arch!r}; allowed values: {', '.join(ARCHS)}")
    required, optional, _ = ARCHS[arch]
    allowed = {"arch", *required, *optional}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise NcsnError(f"unknown model key(s) {unknown} for arch {arch!r}; allowed keys: {sorted(allowed)}")
    missing = [key for key in required if key not in spec]
    if missing:
        raise NcsnError(f"model key(s) {missing} missing for arch {arch!r}; required keys: {list(required)}")
    full = {**optional, **spec}
    for key in (*required, *optional):
        value = full[key]
        if key in CHOICES:
            if value not in CHOICES[key]:
                raise NcsnError(f"model.{key} is {value!r}; allowed values: {', '.join(CHOICES[key])}")
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < MINIMUM[key]:
            raise NcsnError(f"model.{key} must be an integer >= {MINIMUM[key]}, got {value!r}")
    if arch in ("refinenet", "refinenet_re") and full["image_size"] % 2:
        raise NcsnError(
            f"model.image_size must be even for refinenet (it halves the resolution once), got {full['image_size']}"
        )
    if arch in CONDITIONAL and full["ngf"] < MIN_NORM_FEATURES:
        raise NcsnError(f"model.ngf must be >= {MIN_NORM_FEATURES} for {arch} (CondInstanceNorm++ needs 2+ channels)")
    return full


def build_model(spec: dict) -> nn.Module:
    """Build the score network described by ``spec`` (see the module docstring for keys)."""
    full = _validate(spec)
    return ARCHS[full["arch"]][2](full)


def image_shape(spec: dict) -> tuple[int, int, int]:
    """(C, H, W) of the images a model spec's network takes (square, ``channels`` x ``image_size``)."""
    return (spec["channels"], spec["image_size"], spec["image_size"])


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
