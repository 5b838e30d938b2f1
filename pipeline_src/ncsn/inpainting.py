"""Occlusion masks and batched inpainting (paper Alg. 2, Fig. 6): every mask's chains in one sampler pass."""

from __future__ import annotations

import numpy as np
import torch

from ncsn import sampling
from ncsn.errors import NcsnError
from ncsn.settings import definition

# the occlusions `figures.inpainting.masks` allows (one definition: the settings schema)
MASKS: tuple[str, ...] = tuple(definition("figures.inpainting")["properties"]["masks"]["items"]["enum"])


def occlusion_mask(name: str, height: int, width: int) -> np.ndarray:
    """(H, W) bool mask of the *observed* pixels for a named occlusion (False = to inpaint)."""
    mask = np.ones((height, width), dtype=bool)
    if name == "right_half":  # the paper's Fig. 6
        mask[:, width // 2 :] = False
    elif name == "left_half":
        mask[:, : width // 2] = False
    elif name == "bottom_half":
        mask[height // 2 :, :] = False
    elif name == "centre_square":
        mask[height // 4 : height - height // 4, width // 4 : width - width // 4] = False
    elif name == "checkerboard":
        block = max(1, height // 4)
        rows, cols = np.indices((height, width)) // block
        mask = (rows + cols) % 2 == 0
    else:
        raise NcsnError(f"unknown occlusion mask {name!r}; use one of {', '.join(MASKS)}")
    return mask


def inpaint_panels(
    model: torch.nn.Module,
    originals: torch.Tensor,
    masks: list[str],
    per_image: int,
    sigmas: torch.Tensor,
    opts: dict,
    generator: torch.Generator,
) -> torch.Tensor:
    """Rows of ``[occluded, per_image completions, original]`` for every mask and image, (M*N*(per_image+2), C, H, W).

    ``originals`` float (N, C, H, W) in [0, 1]; occluded pixels are shown black. All M*N*per_image
    chains run as one batch of :func:`ncsn.sampling.inpaint` with ``opts``' n_steps_each and eps.
    """
    n, c, h, w = originals.shape
    observed = torch.stack([torch.from_numpy(occlusion_mask(name, h, w)) for name in masks]).to(
        originals.device
    )  # (M, H, W)
    chain_masks = observed[:, None, None, None].expand(len(masks), n, per_image, c, h, w)
    x_obs = originals[None, :, None].expand(len(masks), n, per_image, c, h, w)
    filled = sampling.inpaint(
        model,
        x_obs.reshape(-1, c, h, w),
        chain_masks.reshape(-1, c, h, w),
        sigmas,
        opts["n_steps_each"],
        opts["eps"],
        generator=generator,
    ).view(len(masks), n, per_image, c, h, w)
    rows = [
        torch.cat([(originals * mask)[:, None], mask_filled, originals[:, None]], dim=1)
        for mask, mask_filled in zip(observed, filled)
    ]
    return torch.cat(rows).flatten(0, 1).clamp(0, 1)
