"""Nearest neighbours: exact copies found at distance 0, results equal to a brute-force search."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncsn.errors import NcsnError
from ncsn.neighbours import nearest_neighbours, pixel_vectors


def test_copy_of_training_image_finds_itself():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, size=(200, 8, 8, 1), dtype=np.uint8)
    queries = train[[17, 123, 5]].copy()
    dist, idx = nearest_neighbours(pixel_vectors(queries), pixel_vectors(train), k=3, chunk=2)
    assert idx[:, 0].tolist() == [17, 123, 5]
    assert torch.allclose(dist[:, 0], torch.zeros(3, dtype=dist.dtype), atol=1e-6)
    assert (dist[:, 1] > 0.5).all()


def test_matches_brute_force():
    gen = torch.Generator().manual_seed(1)
    q, r = torch.randn(7, 5, generator=gen, dtype=torch.float64), torch.randn(40, 5, generator=gen, dtype=torch.float64)
    dist, idx = nearest_neighbours(q, r, k=4, chunk=3)
    full = torch.cdist(q, r)
    want_d, want_i = torch.topk(full, 4, largest=False)
    assert torch.equal(idx, want_i)
    assert torch.allclose(dist, want_d)


def test_bad_input():
    with pytest.raises(NcsnError, match="k = 5"):
        nearest_neighbours(torch.zeros(2, 3), torch.zeros(4, 3), k=5)
    with pytest.raises(NcsnError, match="uint8"):
        pixel_vectors(np.zeros((2, 8, 8, 1), dtype=np.float32))
