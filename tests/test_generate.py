"""Sharded sample generation: K shards together equal one job; shard files and their checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncsn.checkpoint import load_score_model, save_checkpoint
from ncsn.cli import main
from ncsn.errors import NcsnError
from ncsn.generate import generate, load_shards, to_uint8
from ncsn.models import build_model
from ncsn.schedules import make_sigmas
from ncsn.settings import check_block, shard_blocks

FAST = {"n_steps_each": 1, "batch_size": 4}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained CondRefineNet on 8x8 grey images, saved as training would (weights are random, deterministic)."""
    torch.set_num_threads(1)
    spec = {"arch": "refinenet", "ngf": 8, "channels": 1, "image_size": 8, "num_classes": 10}
    schedule = {"kind": "geometric", "sigma_begin": 1.0, "sigma_end": 0.01, "num_levels": 10}
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("run") / "ckpt_40.pt"
    save_checkpoint(
        path,
        {
            "iteration": 40,
            "model_spec": spec,
            "schedule_spec": schedule,
            "sigmas": make_sigmas(schedule),
            "model": build_model(spec).state_dict(),
            "ema": None,
        },
    )
    return path


@pytest.fixture(scope="module")
def loaded(checkpoint):
    return load_score_model(checkpoint, "cpu")


def draw(loaded, settings, num_samples, seed=0, shard=0, shards=1):
    model, sigmas, _ = loaded
    return generate(model, sigmas, (1, 8, 8), check_block("sampling", settings), num_samples, seed, shard, shards)


def test_two_shards_together_equal_one_job(loaded):
    whole, info = draw(loaded, FAST, 10)
    first, first_info = draw(loaded, FAST, 10, shard=0, shards=2)
    second, second_info = draw(loaded, FAST, 10, shard=1, shards=2)
    assert whole.dtype == np.uint8 and whole.shape == (10, 8, 8, 1)
    assert np.array_equal(np.concatenate([first, second]), whole)
    assert (first_info["start"], first_info["stop"], second_info["start"], second_info["stop"]) == (0, 4, 4, 10)
    assert (info["num_samples"], info["shard"], info["num_shards"]) == (10, 0, 1)
    assert len(np.unique(whole.reshape(10, -1), axis=0)) == 10  # every block draws its own noise


def test_seed_and_method_change_the_samples(loaded):
    base, _ = draw(loaded, FAST, 4)
    assert not np.array_equal(base, draw(loaded, FAST, 4, seed=1)[0])
    assert not np.array_equal(base, draw(loaded, {**FAST, "method": "langevin"}, 4)[0])


def test_shard_blocks_cover_all_samples_once():
    for shards in (1, 2, 3, 7):
        covered = [i for k in range(shards) for _, lo, hi in shard_blocks(25, 4, k, shards) for i in range(lo, hi)]
        assert covered == list(range(25))


@pytest.mark.parametrize(
    ("args", "message"),
    [((10, 4, 0, 4), "between 1 and 3 shards"), ((10, 4, 2, 2), "shard index"), ((0, 4, 0, 1), "num_samples")],
)
def test_impossible_sharding_is_a_clear_error(args, message):
    with pytest.raises(NcsnError, match=message):
        shard_blocks(*args)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"method": "ode"}, "method"),
        ({"steps": 3}, "sampling.steps: unknown key"),
        ({"method": "langevin", "denoise": True}, "denoise"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_sampling_settings_fail_before_sampling(loaded, settings, message):
    with pytest.raises(NcsnError, match=message):
        draw(loaded, settings, 4)


def test_to_uint8_rounds_and_clamps():
    x = torch.tensor([-0.5, 0.0, 0.5 / 255, 0.6 / 255, 1.0, 1.7]).reshape(1, 1, 1, 6)
    assert to_uint8(x).ravel().tolist() == [0, 0, 0, 1, 255, 255]


def test_sample_command_shards_load_back_as_the_single_job(checkpoint, loaded, tmp_path, sample_shard):
    settings = '{"sampling": {"n_steps_each": 1, "batch_size": 4}, "device": "cpu", "seed": 0}'
    paths = [str(tmp_path / f"shard_{k}_of_2.npz") for k in range(2)]
    for k, path in enumerate(paths):
        assert sample_shard(checkpoint, path, 10, settings, shard=k, shards=2) == 0
    images, infos = load_shards(paths[::-1])
    assert np.array_equal(images, draw(loaded, FAST, 10)[0])
    assert (
        [i["shard"] for i in infos] == [0, 1]
        and infos[0]["iteration"] == 40
        and infos[0]["checkpoint"] == str(checkpoint)
    )
    with pytest.raises(NcsnError, match="expected shards 0..1"):
        load_shards(paths[:1])
    other = str(tmp_path / "other.npz")
    assert sample_shard(checkpoint, other, 10, settings.replace('"seed": 0', '"seed": 5'), shard=1, shards=2) == 0
    with pytest.raises(NcsnError, match="different draws"):
        load_shards([paths[0], other])


def test_sample_command_rejects_bad_sharding_before_loading_anything(tmp_path, capsys):
    out = tmp_path / "shard.npz"
    code = main(
        [
            "sample",
            "--checkpoint",
            str(tmp_path / "missing.pt"),
            "--num-samples",
            "8",
            "--shard",
            "0",
            "--shards",
            "3",
            "--settings",
            '{"sampling": {"batch_size": 4}}',
            "--out",
            str(out),
        ]
    )
    assert code == 2 and "shards" in capsys.readouterr().err and not out.exists()
