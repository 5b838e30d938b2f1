"""Nearest training images of generated samples by l2 distance (paper App. Figs. 9-10, [Re] Fig. 6).

Distances are computed on flattened vectors: raw pixels in [0, 1] for pixel space, or the
configured extractor's features for feature space. A memorised sample shows up as distance ~0.
"""

from __future__ import annotations

import numpy as np
import torch

from ncsn.errors import NcsnError


def pixel_vectors(images: np.ndarray) -> torch.Tensor:
    """uint8 NHWC images -> float64 (N, H*W*C) vectors in [0, 1]."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise NcsnError(f"expected uint8 images of shape (N, H, W, C), got {images.dtype} {images.shape}")
    return torch.from_numpy(images.reshape(len(images), -1)).double() / 255.0


def nearest_neighbours(
    queries: torch.Tensor, reference: torch.Tensor, k: int, chunk: int = 1024
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest rows of ``reference`` for each row of ``queries`` in l2 distance.

    Returns ``(distances, indices)``, both (N, k), closest first. Works in chunks of queries
    so that memory stays at ``chunk x len(reference)`` distances.
    """
    if queries.ndim != 2 or reference.ndim != 2 or queries.shape[1] != reference.shape[1]:
        raise NcsnError(
            f"queries {tuple(queries.shape)} and reference {tuple(reference.shape)} must be 2-D with equal width"
        )
    if not 1 <= k <= len(reference):
        raise NcsnError(f"k = {k} must be between 1 and the number of reference vectors ({len(reference)})")
    reference = reference.to(queries.dtype)
    ref_sq = (reference * reference).sum(1)
    dists, idxs = [], []
    for start in range(0, len(queries), chunk):
        q = queries[start : start + chunk]
        # ||q - r||^2 = ||q||^2 - 2 q.r + ||r||^2: one matrix product, exact enough in float64
        sq = (q * q).sum(1, keepdim=True) - 2.0 * q @ reference.T + ref_sq
        d, i = torch.topk(sq.clamp_min(0.0), k, dim=1, largest=False)
        dists.append(d.sqrt())
        idxs.append(i)
    return torch.cat(dists), torch.cat(idxs)
