"""Official NCSN checkpoints (ermongroup/ncsn) as our checkpoints: evaluate the paper's model without training.

The official code saves ``torch.save([score.state_dict(), optimizer.state_dict()], 'checkpoint.pth')``
with the score network (``CondRefineNetDilated``) wrapped in ``DataParallel``, so every key starts
with ``module.``. :func:`official_name` maps each parameter name of our
:class:`ncsn.models.refinenet.CondRefineNet` to the official one (the same network, module for
module; ``tests/test_official_parity.py`` checks the outputs agree); :func:`import_official`
reads an official file and returns a checkpoint state that :func:`ncsn.checkpoint.load_score_model`
loads, with the data set's official settings (NCSN paper App. B.1 and the official configs).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ncsn.errors import NcsnError

# The official configs (configs/anneal.yml and its MNIST/CelebA variants): ngf 128 for CIFAR-10
# and CelebA (32x32 after the centre crop), 64 for MNIST (28x28); 10 geometric levels 1 -> 0.01.
OFFICIAL_MODELS: dict[str, dict[str, int]] = {
    "cifar10": {"channels": 3, "image_size": 32, "ngf": 128},
    "celeba": {"channels": 3, "image_size": 32, "ngf": 128},
    "mnist": {"channels": 1, "image_size": 28, "ngf": 64},
}
OFFICIAL_SCHEDULE: dict[str, Any] = {"kind": "geometric", "sigma_begin": 1.0, "sigma_end": 0.01, "num_levels": 10}
DATA_PARALLEL_PREFIX = "module."
_ITERATION_IN_NAME = re.compile(r"checkpoint_(\d+)\.pth$")
_RES_RENAMES = {"norm1": "normalize1", "norm2": "normalize2", "conv1": "conv1"}


def official_name(our_name: str, pooled_blocks: set[str]) -> str:
    """Official parameter name of one of our CondRefineNet parameter names.

    ``pooled_blocks`` holds our names (``cascades.1.0``) of the non-dilated down-sampling blocks,
    whose conv2 and shortcut sit inside a ConvMeanPool (``.conv.``) in the official layout.
    """
    if our_name.startswith(("begin_conv.", "end_conv.")):
        return our_name
    if our_name.startswith("end_norm."):
        return "normalizer." + our_name.removeprefix("end_norm.")
    m = re.fullmatch(r"cascades\.(\d)\.(\d)\.(norm1|norm2|conv1|conv2|shortcut)\.(.+)", our_name)
    if m:
        cascade, idx, part, rest = m.groups()
        prefix = f"res{int(cascade) + 1}.{idx}"
        if part in ("conv2", "shortcut"):
            inner = ".conv" if f"cascades.{cascade}.{idx}" in pooled_blocks else ""
            return f"{prefix}.{part}{inner}.{rest}"
        return f"{prefix}.{_RES_RENAMES[part]}.{rest}"
    m = re.fullmatch(r"refines\.(\d)\.(adapt\.(\d)|output)\.(norms|convs)\.(\d+)\.(.+)", our_name)
    if m:
        refine, _, adapt_idx, kind, k, rest = m.groups()
        unit, stage = divmod(int(k), 2)  # our flat list: 2 stages per unit, units in order
        module = f"adapt_convs.{adapt_idx}" if adapt_idx is not None else "output_convs"
        suffix = "norm" if kind == "norms" else "conv"
        return f"refine{int(refine) + 1}.{module}.{unit + 1}_{stage + 1}_{suffix}.{rest}"
    m = re.fullmatch(r"refines\.(\d)\.(msf|crp)\.(norms|convs)\.(\d)\.(.+)", our_name)
    if m:
        refine, block, kind, k, rest = m.groups()
        return f"refine{int(refine) + 1}.{block}.{kind}.{k}.{rest}"
    raise KeyError(f"no official counterpart for parameter {our_name!r}")


def official_names(model: nn.Module) -> dict[str, str]:
    """Our parameter name -> official name, for every parameter of a CondRefineNet ``model``."""
    pooled = {name for name, module in model.named_modules() if getattr(module, "pool", False) is True}
    return {name: official_name(name, pooled) for name, _ in model.named_parameters()}


def read_official_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The score network's state dict from an official checkpoint file, without the ``module.`` prefix.

    Accepts the official ``[score_state, optimizer_state]`` list or a bare state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise NcsnError(
            f"official checkpoint {path} does not exist; download checkpoint.pth of ermongroup/ncsn and give its path"
        )
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for damaged or foreign files
        raise NcsnError(f"{path} cannot be read as a torch checkpoint ({type(err).__name__}: {err})") from err
    state = saved[0] if isinstance(saved, (list, tuple)) and saved else saved
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise NcsnError(
            f"{path} is not an official NCSN checkpoint: expected [score.state_dict(), optimizer.state_dict()] "
            "as ermongroup/ncsn saves it (or a bare state dict)"
        )
    return {key.removeprefix(DATA_PARALLEL_PREFIX): value for key, value in state.items()}


def convert_state(
    official: dict[str, torch.Tensor], model: nn.Module, source: str = "the official checkpoint"
) -> dict[str, torch.Tensor]:
    """Our state dict for ``model`` (a CondRefineNet) from official parameters; errors name the key."""
    mapping = official_names(model)
    ours = model.state_dict()
    unknown = sorted(set(official) - set(mapping.values()))
    if unknown:
        raise NcsnError(
            f"{source} holds {len(unknown)} parameter(s) CondRefineNetDilated does not have, e.g. {unknown[0]!r}: "
            "it is another architecture (only NCSN v1's CondRefineNetDilated can be imported)"
        )
    missing = [official_name_ for official_name_ in mapping.values() if official_name_ not in official]
    if missing:
        raise NcsnError(
            f"{source} lacks the parameter {missing[0]!r} ({len(missing)} missing): it is incomplete or another architecture"
        )
    state = {}
    for name, theirs in mapping.items():
        value = official[theirs]
        if value.shape != ours[name].shape:
            raise NcsnError(
                f"{source}: parameter {theirs!r} has shape {tuple(value.shape)}, expected {tuple(ours[name].shape)} "
                f"for this model ({ours['begin_conv.weight'].shape[1]} channels, ngf {ours['begin_conv.weight'].shape[0]}); "
                "check --dataset (and --ngf)"
            )
        state[name] = value.to(ours[name].dtype)
    return state


def iteration_from_official_name(path: str | os.PathLike) -> int:
    """The training step in an official ``checkpoint_{step}.pth`` name; 0 for ``checkpoint.pth``."""
    match = _ITERATION_IN_NAME.search(str(path))
    return int(match.group(1)) if match else 0


def import_official(
    path: str | os.PathLike, dataset: str, ngf: int | None = None, iteration: int | None = None
) -> dict[str, Any]:
    """A checkpoint state (the fields :func:`ncsn.checkpoint.load_score_model` reads) from an official file.

    ``ngf`` overrides the data set's official width (tests use small ones); ``iteration``, by default,
    comes from the file name (``checkpoint_{step}.pth``) or is 0.
    """
    from ncsn.checkpoint import FORMAT
    from ncsn.io import file_sha256
    from ncsn.models import build_model
    from ncsn.schedules import make_sigmas

    if dataset not in OFFICIAL_MODELS:
        raise NcsnError(
            f"--dataset must be one of {', '.join(OFFICIAL_MODELS)} (the official NCSN configs), got {dataset!r}"
        )
    spec = {"arch": "refinenet", **OFFICIAL_MODELS[dataset], "num_classes": OFFICIAL_SCHEDULE["num_levels"]}
    if ngf is not None:
        spec["ngf"] = int(ngf)
    model = build_model(spec)
    state = convert_state(read_official_state(path), model, source=str(path))
    model.load_state_dict(state)  # strict: every parameter is set
    return {
        "format": FORMAT,
        "iteration": iteration_from_official_name(path) if iteration is None else int(iteration),
        "model_spec": spec,
        "schedule_spec": dict(OFFICIAL_SCHEDULE),
        "sigmas": make_sigmas(OFFICIAL_SCHEDULE),
        "model": model.state_dict(),
        "ema": None,
        "settings": {
            "imported_from": {
                "path": str(path),
                "sha256": file_sha256(path),
                "code": "ermongroup/ncsn",
                "dataset": dataset,
            }
        },
    }
