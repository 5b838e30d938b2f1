"""A sampling job killed part-way (SIGTERM from scancel or pre-emption) keeps the blocks it finished.

``ncsn sample`` keeps every finished block in ``OUT.blocks/``; run again, it takes them instead of
drawing them anew and ends with exactly the shard an uninterrupted run writes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import torch

from ncsn.checkpoint import save_checkpoint
from ncsn.cli import main
from ncsn.models import build_model
from ncsn.schedules import make_sigmas

SETTINGS = {"sampling": {"n_steps_each": 4, "batch_size": 8}, "device": "cpu", "seed": 0}


def untrained_checkpoint(path):
    spec = {"arch": "refinenet", "ngf": 8, "channels": 1, "image_size": 8, "num_classes": 10}
    schedule = {"kind": "geometric", "sigma_begin": 1.0, "sigma_end": 0.01, "num_levels": 10}
    torch.manual_seed(0)
    state = {"iteration": 1, "model_spec": spec, "schedule_spec": schedule, "sigmas": make_sigmas(schedule)}
    save_checkpoint(path, {**state, "model": build_model(spec).state_dict(), "ema": None})
    return path


def sample_command(checkpoint, out) -> list[str]:
    return [sys.executable, "-m", "ncsn", "sample", "--checkpoint", str(checkpoint), "--num-samples", "32"] + [
        "--settings",
        json.dumps(SETTINGS),
        "--threads",
        "1",
        "--out",
        str(out),
    ]


def test_a_killed_sampling_job_resumes_at_its_first_unfinished_block(tmp_path):
    checkpoint = untrained_checkpoint(tmp_path / "ckpt_1.pt")
    out = tmp_path / "shard_0_of_1.npz"
    blocks = tmp_path / "shard_0_of_1.npz.blocks"
    job = subprocess.Popen(
        sample_command(checkpoint, out),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    deadline = time.monotonic() + 120
    while not (blocks / "block_1.npz").is_file():
        assert job.poll() is None and time.monotonic() < deadline, "no two blocks within 120 s"
        time.sleep(0.02)
    job.send_signal(signal.SIGTERM)
    job.wait(timeout=60)
    assert not out.exists()
    finished = sorted(p.name for p in blocks.glob("block_*.npz"))
    assert finished[:2] == ["block_0.npz", "block_1.npz"] and len(finished) < 4

    assert main(sample_command(checkpoint, out)[3:]) == 0
    meta = json.loads(str(np.load(out)["meta"]))
    assert meta["blocks_kept"] == len(finished) and not blocks.exists()
    straight = tmp_path / "straight.npz"
    assert main(sample_command(checkpoint, straight)[3:]) == 0
    np.testing.assert_array_equal(np.load(out)["images"], np.load(straight)["images"])
    assert json.loads(str(np.load(straight)["meta"]))["blocks_kept"] == 0


def test_blocks_of_another_draw_are_drawn_again(tmp_path):
    """A kept block belongs to one draw (checkpoint, sampling settings, seed): other settings never take it."""
    checkpoint = untrained_checkpoint(tmp_path / "ckpt_1.pt")
    out = tmp_path / "shard.npz"
    blocks = tmp_path / "shard.npz.blocks"
    blocks.mkdir()
    np.savez(blocks / "block_0.npz", images=np.zeros((8, 8, 8, 1), np.uint8), key=np.array("another draw"))
    assert main(sample_command(checkpoint, out)[3:]) == 0
    assert json.loads(str(np.load(out)["meta"]))["blocks_kept"] == 0 and np.load(out)["images"][:8].any()
