"""Held-out DSM loss: fixed images, noise and levels make checkpoints comparable; checked against dsm_loss by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncsn.errors import NcsnError
from ncsn.metrics.heldout import heldout_loss
from ncsn.models import build_model
from ncsn.schedules import make_sigmas
from ncsn.settings import SettingsError, check_block

SIGMAS = make_sigmas({"kind": "geometric", "sigma_begin": 1.0, "sigma_end": 0.01, "num_levels": 4})


def model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model({"arch": "refinenet", "channels": 1, "image_size": 8, "ngf": 4, "num_classes": 4}).eval()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, size=(30, 8, 8, 1), dtype=np.uint8)


def test_equals_the_per_level_formula_with_one_fixed_noise(images):
    torch.set_num_threads(1)
    net = model(0)
    got = heldout_loss(net, SIGMAS, images, {"num_images": 20, "batch_size": 7, "seed": 3})
    x = torch.from_numpy(images[:20]).permute(0, 3, 1, 2).float() / 255
    # the noise of every level is the same z: a generator seeded 3 drawing batches of 7, 7, 6
    gen = torch.Generator().manual_seed(3)
    z = torch.cat([torch.randn((n, 1, 8, 8), generator=gen) for n in (7, 7, 6)])
    expected = []
    with torch.no_grad():
        for level, sigma in enumerate(SIGMAS):
            perturbed = x + sigma * z
            scores = net(perturbed, torch.full((20,), level))
            expected.append(float((0.5 * sigma**2 * (scores + z / sigma).pow(2).flatten(1).sum(1)).mean()))
    assert got["per_level"] == pytest.approx(expected, rel=1e-5)
    assert got["heldout_loss"] == pytest.approx(np.mean(expected), rel=1e-5) and got["num_images"] == 20


def test_is_deterministic_and_tells_checkpoints_apart(images):
    settings = check_block("selection.heldout", {"num_images": 30, "batch_size": 16})
    first = heldout_loss(model(0), SIGMAS, images, settings)
    assert heldout_loss(model(0), SIGMAS, images, settings) == first
    assert heldout_loss(model(1), SIGMAS, images, settings)["heldout_loss"] != first["heldout_loss"]
    assert heldout_loss(model(0), SIGMAS, images, {**settings, "batch_size": 30})["heldout_loss"] == pytest.approx(
        first["heldout_loss"], rel=1e-6
    )


def test_bad_settings_are_clear_errors(images):
    with pytest.raises(NcsnError, match="fewer than num_images"):
        heldout_loss(model(0), SIGMAS, images, check_block("selection.heldout", {"num_images": 100}))
    with pytest.raises(SettingsError, match="heldout.images: unknown key; did you mean `num_images`"):
        check_block("selection.heldout", {"images": 10}, "heldout")


def test_the_schema_fills_the_block_the_command_passes_on():
    assert check_block("selection.heldout", None) == {"num_images": 256, "batch_size": 256, "seed": 0}
