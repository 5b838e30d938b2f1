"""DeviceBatcher: value range, dequantisation bounds, flips, epoch coverage, determinism and resume."""

import numpy as np
import pytest
import torch

from ncsn.data import DeviceBatcher
from ncsn.errors import NcsnError


def ramp_images(n=10, h=3, w=4, c=2):
    """Image k holds value 10k + column index everywhere in its row: identity and orientation are readable."""
    values = 10 * np.arange(n)[:, None, None, None] + np.arange(w)[None, None, :, None]
    return np.broadcast_to(values, (n, h, w, c)).astype(np.uint8).copy()


def test_batches_are_float_nchw_and_dequantised_within_each_grey_level():
    images = np.array([[[[0]], [[255]]]], dtype=np.uint8).repeat(5, axis=0)  # (5, 2, 1, 1): a 0 and a 255 pixel
    batcher = DeviceBatcher(images, batch_size=64, device="cpu", generator=torch.Generator().manual_seed(0))
    x = batcher.next()
    assert x.shape == (64, 1, 2, 1) and x.dtype == torch.float32
    low, high = x[:, 0, 0, 0], x[:, 0, 1, 0]
    # (uint8 + U(0, 1)) / 256: value 0 -> [0, 1/256), value 255 -> [255/256, 1]
    assert low.min() >= 0 and low.max() < 1 / 256 and high.min() >= 255 / 256 and high.max() <= 1
    assert len(torch.unique(low)) > 60  # noise really differs per draw
    assert abs(low.mean().item() - 0.5 / 256) < 0.25 / 256


def test_without_dequantisation_values_are_uint8_over_255():
    images = ramp_images()
    x = DeviceBatcher(images, 8, "cpu", dequantize=False, seed=1).next()
    ids = (x[:, 0, 0, 0] * 255).round().long() // 10
    expected = torch.from_numpy(images).permute(0, 3, 1, 2)[ids].float() / 255
    assert torch.equal(x, expected)


def test_every_image_once_per_pass_and_constant_batch_size():
    images = ramp_images(n=10)
    batcher = DeviceBatcher(images, batch_size=4, device="cpu", dequantize=False, seed=3)
    ids = torch.cat([(batcher.next()[:, 0, 0, 0] * 255).round().long() // 10 for _ in range(5)])  # 20 draws = 2 passes
    assert sorted(ids[:10].tolist()) == list(range(10)) and sorted(ids[10:].tolist()) == list(range(10))


def test_flips_mirror_about_half_the_images_and_nothing_else():
    images = ramp_images(n=10, w=4)
    plain = DeviceBatcher(images, 400, "cpu", dequantize=False, seed=0).next()
    assert torch.all(plain[..., 0] < plain[..., -1])  # columns increase left to right without flips
    x = DeviceBatcher(images, 400, "cpu", flip=True, dequantize=False, seed=0).next()
    flipped = x[:, 0, 0, 0] > x[:, 0, 0, -1]
    assert 150 < flipped.sum() < 250
    restored = torch.where(flipped[:, None, None, None], x.flip(-1), x)
    assert torch.all(restored[..., 0] < restored[..., -1])  # undoing the flips restores every image


def test_same_seed_same_batches_and_resume_is_bit_identical():
    images = np.random.default_rng(0).integers(0, 256, (13, 4, 4, 3), dtype=np.uint8)
    a = DeviceBatcher(images, 5, "cpu", flip=True, seed=7)
    b = DeviceBatcher(images, 5, "cpu", flip=True, seed=7)
    assert all(torch.equal(a.next(), b.next()) for _ in range(4))
    assert not torch.equal(a.next(), DeviceBatcher(images, 5, "cpu", flip=True, seed=8).next())
    state = a.state_dict()
    expected = [a.next() for _ in range(6)]  # crosses into a new permutation
    resumed = DeviceBatcher(images, 5, "cpu", flip=True, seed=123)
    resumed.load_state_dict(state)
    assert all(torch.equal(e, resumed.next()) for e in expected)


def test_caller_generator_drives_the_draws():
    images = np.random.default_rng(1).integers(0, 256, (9, 2, 2, 1), dtype=np.uint8)
    a = DeviceBatcher(images, 4, "cpu", generator=torch.Generator().manual_seed(5))
    b = DeviceBatcher(images, 4, "cpu", generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.next(), b.next())
    assert a.image_shape == (1, 2, 2) and a.num_images == 9


def test_bad_input_errors():
    with pytest.raises(NcsnError, match="non-empty uint8"):
        DeviceBatcher(np.zeros((4, 2, 2, 1), np.float32), 2, "cpu")
    with pytest.raises(NcsnError, match="batch_size must be a positive integer"):
        DeviceBatcher(np.zeros((4, 2, 2, 1), np.uint8), 0, "cpu")
    small = DeviceBatcher(np.zeros((4, 2, 2, 1), np.uint8), 2, "cpu")
    with pytest.raises(NcsnError, match="state is for 5 images but the data set has 4"):
        small.load_state_dict(DeviceBatcher(np.zeros((5, 2, 2, 1), np.uint8), 2, "cpu").state_dict())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batches_stay_on_device():
    images = np.random.default_rng(2).integers(0, 256, (50, 8, 8, 3), dtype=np.uint8)
    batcher = DeviceBatcher(images, 16, "cuda", flip=True, seed=0)
    x = batcher.next()
    assert x.is_cuda and x.shape == (16, 3, 8, 8) and 0 <= x.min() and x.max() <= 1
    with pytest.raises(NcsnError, match="generator lives on cpu"):
        DeviceBatcher(images, 16, "cuda", generator=torch.Generator())
