"""Held-out DSM loss of a checkpoint: the training objective on test images, comparable across checkpoints.

NCSN paper Sec. 4.2: the objective "can be used to compare" models. Every checkpoint is scored on
the same first ``num_images`` test images (uint8 / 255, no dequantisation), at *every* noise level
with the *same* noise ``z`` (one generator seeded ``seed``, restarted per level), so two
checkpoints differ only by their weights. The mean over levels is the expectation over
i ~ U{1..L} that training minimises. Cheap next to FID: L x num_images forward passes, no sampling.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ncsn.errors import NcsnError
from ncsn.losses import dsm_loss


@torch.no_grad()
def heldout_loss(
    model: torch.nn.Module, sigmas: torch.Tensor, images: np.ndarray, opts: dict[str, Any]
) -> dict[str, Any]:
    """DSM loss of ``model`` on the first ``num_images`` of ``images`` (uint8 NHWC): mean and per level.

    ``opts`` is the filled ``selection.heldout`` block (``ncsn heldout-loss``'s envelope holds one).
    """
    if len(images) < opts["num_images"]:
        raise NcsnError(
            f"the held-out split has {len(images)} images, fewer than num_images={opts['num_images']}; lower it"
        )
    device = sigmas.device
    x_all = torch.from_numpy(np.ascontiguousarray(images[: opts["num_images"]])).permute(0, 3, 1, 2).float().div(255.0)
    per_level = []
    for level in range(len(sigmas)):
        generator = torch.Generator(device=device).manual_seed(
            int(opts["seed"])
        )  # the same z at every level and checkpoint
        total = 0.0
        for start in range(0, len(x_all), opts["batch_size"]):
            x = x_all[start : start + opts["batch_size"]].to(device)
            levels = torch.full((len(x),), level, dtype=torch.long, device=device)
            total += float(dsm_loss(model, x, sigmas, levels=levels, generator=generator, reduction="none").sum())
        per_level.append(total / len(x_all))
    return {
        "heldout_loss": float(np.mean(per_level)),
        "per_level": per_level,
        "num_images": len(x_all),
        "settings": opts,
    }
