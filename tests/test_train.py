"""Training loop and checkpoints on real data: a tiny CondRefineNet (ngf 8) on the 8x8 digits."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import RESUMABLE, assert_identical, tiny, train

from ncsn.checkpoint import latest_complete, list_checkpoints, load_checkpoint, load_score_model, save_checkpoint
from ncsn.device import select_device
from ncsn.errors import NcsnError
from ncsn.models import build_model, image_shape
from ncsn.sampling import annealed_langevin, uniform_init
from ncsn.settings import defaults
from ncsn.train import make_adam


def run(data: Path, root: Path, settings: dict, log: list | None = None) -> dict:
    return train(data, root / "state", root / "out", settings, threads=1, log=(log if log is not None else []).append)


def test_resume_is_bit_identical_to_an_uninterrupted_run(digits, tmp_path):
    run(digits, tmp_path / "straight", tiny(6, ema=True))
    log: list[str] = []
    run(digits, tmp_path / "split", tiny(2, ema=True))
    run(digits, tmp_path / "split", tiny(6, ema=True), log)
    assert any("resuming from" in line and line.endswith("(iteration 2 of 6)") for line in log), log
    for iteration in (2, 4, 6):
        straight = load_checkpoint(tmp_path / "straight" / "state" / f"ckpt_{iteration}.pt")
        resumed = load_checkpoint(tmp_path / "split" / "state" / f"ckpt_{iteration}.pt")
        assert straight["ema"] is not None, "EMA weights must be saved"
        # Adam's moments: in the two newest snapshots only (the one a resume starts from, and its spare)
        assert bool(straight["optimizer"] and straight["optimizer"]["state"]) == (iteration >= 4), iteration
        for key in RESUMABLE:
            assert_identical(straight[key], resumed[key], key)
        # loss log identical except the measured speed (last column)
        assert_identical(
            [row[:-1] for row in straight["loss_log"]], [row[:-1] for row in resumed["loss_log"]], "loss_log"
        )
    # and training really moved the weights and the EMA away from each other and from the start
    final = load_checkpoint(tmp_path / "straight" / "state" / "ckpt_6.pt")
    first = load_checkpoint(tmp_path / "straight" / "state" / "ckpt_2.pt")
    name = next(k for k, v in final["model"].items() if v.is_floating_point() and v.numel() > 100)
    assert not torch.equal(final["model"][name], first["model"][name])
    assert not torch.equal(final["model"][name], final["ema"][name])


def test_the_ema_follows_its_formula_step_by_step(digits):
    """ema <- rate * ema + (1 - rate) * weights after every optimiser step, against a float64 recurrence."""
    from ncsn.data import load_split
    from ncsn.schedules import make_sigmas
    from ncsn.settings import check_envelope
    from ncsn.train import Trainer, resolve_settings

    images, _ = load_split(digits)
    sigmas = make_sigmas(defaults("schedule"))
    settings = resolve_settings(check_envelope("train", tiny(4, ema=True, ema_rate=0.9)), images.shape)
    torch.set_num_threads(1)
    trainer = Trainer(settings, images, sigmas, torch.device("cpu"))
    expected = {name: value.detach().double().clone() for name, value in trainer.model.named_parameters()}
    assert expected.keys() <= trainer.ema.keys()
    for _ in range(4):
        trainer.step()
        for name, value in trainer.model.named_parameters():
            expected[name] = 0.9 * expected[name] + 0.1 * value.detach().double()
    for name, value in expected.items():
        torch.testing.assert_close(trainer.ema[name].double(), value, rtol=1e-6, atol=1e-6, msg=name)
    moved = next(name for name, value in expected.items() if value.numel() > 100)
    assert not torch.equal(trainer.ema[moved], trainer.model.state_dict()[moved])  # not a copy of the weights


def test_interrupted_writes_are_never_picked_up(digits, tmp_path):
    state = tmp_path / "run" / "state"
    run(digits, tmp_path / "run", tiny(2))
    good = state / "ckpt_2.pt"
    # what a process killed inside save_checkpoint leaves: its temporary file, and (from a
    # crashed file system or a plain copy) a truncated newer checkpoint
    (state / ".ckpt_4.pt.k2j3h4.tmp").write_bytes(good.read_bytes()[:1000])
    (state / "ckpt_6.pt").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert [it for it, _ in list_checkpoints(state)] == [2, 6]
    skipped: list[str] = []
    found = latest_complete(state, log=skipped.append)
    assert found is not None and found[1] == good and found[0]["iteration"] == 2
    assert len(skipped) == 1 and "ckpt_6.pt" in skipped[0] and "cannot be read" in skipped[0]

    # a save that fails half-way leaves neither the checkpoint nor its temporary file
    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        save_checkpoint(state / "ckpt_8.pt", {"iteration": 8, "model": torch.zeros(10_000), "later": Unpicklable()})
    assert not (state / "ckpt_8.pt").exists()
    assert sorted(p.name for p in state.iterdir()) == [".ckpt_4.pt.k2j3h4.tmp", ".lock", "ckpt_2.pt", "ckpt_6.pt"]

    log: list[str] = []
    run(digits, tmp_path / "run", tiny(6), log)
    assert any(line.startswith("resuming from") and "ckpt_2.pt" in line for line in log), log
    assert load_checkpoint(state / "ckpt_6.pt")["iteration"] == 6  # the damaged file was replaced by a real snapshot


def test_diverging_run_stops_with_the_iteration_and_keeps_the_last_good_checkpoint(digits, tmp_path):
    run(digits, tmp_path / "run", tiny(2))
    good = tmp_path / "run" / "state" / "ckpt_2.pt"
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    with pytest.raises(NcsnError) as err:
        run(digits, tmp_path / "run", tiny(8, lr=1e30))
    message = str(err.value)
    assert "NaN or Inf at iteration 4" in message and str(good) in message and "left untouched" in message
    assert "training.lr (now 1e+30)" in message
    assert [it for it, _ in list_checkpoints(good.parent)] == [2]
    assert hashlib.sha256(good.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in (tmp_path / "run" / "out" / "checkpoints").iterdir()) == [
        "ckpt_2.pt"
    ]  # only the first run's


def test_load_score_model_rebuilds_the_network_with_or_without_ema(digits, tmp_path):
    run(digits, tmp_path / "ema", tiny(2, ema=True, ema_rate=0.5))
    path = tmp_path / "ema" / "out" / "checkpoints" / "ckpt_2.pt"
    state = load_checkpoint(path)
    x, levels = torch.rand(3, 1, 8, 8), torch.tensor([0, 4, 9])
    outputs = {}
    for use_ema in (None, True, False):
        model, sigmas, info = load_score_model(path, "cpu", use_ema=use_ema)
        assert not model.training and info["iteration"] == 2 and info["model_spec"]["image_size"] == 8
        assert torch.equal(sigmas, state["sigmas"]) and sigmas.shape == (10,) and sigmas[0] == 1.0
        weights = state["model"] if use_ema is False else state["ema"]
        assert info["ema"] is (use_ema is not False)
        assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
        with torch.no_grad():
            outputs[use_ema] = model(x, levels)
    assert torch.equal(outputs[None], outputs[True]) and not torch.equal(outputs[True], outputs[False])

    # the checkpoint alone drives the sampler: network, noise levels and image shape all come from it
    model, sigmas, info = load_score_model(path, "cpu")
    spec = info["model_spec"]
    generator = torch.Generator().manual_seed(0)
    x0 = uniform_init((4, *image_shape(spec)), generator=generator)
    samples = annealed_langevin(model, x0, sigmas, n_steps_each=2, eps=2e-5, generator=generator)
    assert samples.shape == (4, 1, 8, 8) and torch.isfinite(samples).all() and not torch.equal(samples, x0)

    run(digits, tmp_path / "plain", tiny(2))
    with pytest.raises(NcsnError, match="holds no EMA weights"):
        load_score_model(tmp_path / "plain" / "out" / "checkpoints" / "ckpt_2.pt", "cpu", use_ema=True)
    _, _, info = load_score_model(tmp_path / "plain" / "out" / "checkpoints" / "ckpt_2.pt", "cpu")
    assert info["ema"] is False


def test_bad_settings_fail_before_training(digits, tmp_path):
    cases = [
        (
            {"training": {"iterations": 2, "learning_rate": 1}},
            "training.learning_rate: unknown key; did you mean `lr`?",
        ),
        ({"training": {"iterations": 0}}, "training.iterations: 0 is less than the minimum of 1"),
        ({"training": {"lr": -1.0}}, "training.lr: -1.0 is less than or equal to the minimum of 0"),
        ({"model": {"arch": "refinenet", "ngf": 8, "channels": 3}}, "model.channels is 3 but the data/schedule give 1"),
        ({"model": {"arch": "mlp"}}, "model.arch: 'mlp' is not one of ['refinenet', 'refinenet_re', 'resnet']"),
        ({"model": {"ngf": "wide"}}, "model.ngf: 'wide' is not of type 'integer'"),
        ({"device": "tpu"}, "device: 'tpu' is not one of ['auto', 'cpu', 'cuda']"),
        ({"seed": -1}, "seed: -1 is less than the minimum of 0"),
        ({"optimiser": {}}, "optimiser: unknown key; (allowed: model, schedule, training, flip, device, seed)"),
        ({"flip": "yes"}, "flip: 'yes' is not of type 'boolean'"),
        ({"schedule": {"kind": "single", "num_levels": 3}}, "schedule.num_levels is 3 but kind single has one level"),
    ]
    for change, message in cases:
        settings = copy.deepcopy(tiny(2))
        for key, value in change.items():
            settings[key] = {**settings[key], **value} if isinstance(value, dict) and key in settings else value
        with pytest.raises(NcsnError) as err:
            run(digits, tmp_path / "bad", settings)
        assert message in str(err.value)
    assert not (tmp_path / "bad").exists()


def test_a_state_dir_refuses_a_different_model(digits, tmp_path):
    run(digits, tmp_path / "run", tiny(2))
    other = tiny(4)
    other["model"]["ngf"] = 16
    with pytest.raises(NcsnError, match=r"trained with model = .*'ngf': 8.*different --state-dir"):
        run(digits, tmp_path / "run", other)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without a GPU")
def test_cuda_requested_without_a_gpu_is_a_clear_error():
    with pytest.raises(NcsnError, match="no CUDA GPU.*set device: cpu"):
        select_device("cuda")
    assert select_device("auto") == torch.device("cpu")


def test_bf16_autocast_and_channels_last_train_and_save_plain_weights(digits, tmp_path):
    record = run(digits, tmp_path / "fast", tiny(2, amp=True, channels_last=True))
    assert record["settings"]["training"]["amp"] is True
    state = load_checkpoint(tmp_path / "fast" / "state" / "ckpt_2.pt")
    assert all(v.dtype == torch.float32 for v in state["model"].values() if v.is_floating_point())
    assert np.isfinite(state["loss_log"][-1][1])
    model, _, _ = load_score_model(tmp_path / "fast" / "state" / "ckpt_2.pt")
    with torch.no_grad():
        assert torch.isfinite(model(torch.rand(2, 1, 8, 8), torch.tensor([0, 9]))).all()


def test_a_snapshot_from_another_device_kind_resumes_with_reseeded_streams(digits, tmp_path):
    run(digits, tmp_path / "run", tiny(2))
    path = tmp_path / "run" / "state" / "ckpt_2.pt"
    state = load_checkpoint(path)
    # what a GPU snapshot holds: CUDA (Philox) generator states, which a CPU generator cannot take
    state["sessions"][-1]["device"] = {"type": "cuda", "name": "some GPU"}
    state["rng"]["batcher"]["generator"] = torch.zeros(16, dtype=torch.uint8)
    state["rng"]["noise"] = torch.zeros(16, dtype=torch.uint8)
    with pytest.raises(RuntimeError):
        torch.Generator().set_state(state["rng"]["noise"])
    save_checkpoint(path, state)
    log: list[str] = []
    run(digits, tmp_path / "run", tiny(4), log)
    assert any("trained on cuda, this session runs on cpu" in line for line in log), log
    assert load_checkpoint(tmp_path / "run" / "state" / "ckpt_4.pt")["iteration"] == 4


def test_fused_adam_makes_the_official_adam_update():
    """The fused optimiser used on CPU/CUDA takes the same steps as torch's reference Adam loop."""
    torch.manual_seed(0)
    model = build_model({"arch": "refinenet", "channels": 1, "image_size": 8, "ngf": 8, "num_classes": 10})
    reference, initial = copy.deepcopy(model), copy.deepcopy(model)
    cfg = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "adam_eps": 1e-8, "weight_decay": 0.0}
    fused = make_adam(model, cfg, torch.device("cpu"))
    assert fused.defaults["fused"] is True
    loop = torch.optim.Adam(reference.parameters(), lr=1e-3, foreach=False)
    x, levels = torch.rand(4, 1, 8, 8), torch.tensor([0, 3, 6, 9])
    for _ in range(3):
        for net, optimiser in ((model, fused), (reference, loop)):
            optimiser.zero_grad()
            net(x, levels).square().sum().backward()
            optimiser.step()
    assert not torch.allclose(model.begin_conv.weight, initial.begin_conv.weight)  # it did move
    for (name, a), b in zip(model.named_parameters(), reference.parameters()):
        assert torch.allclose(a, b, rtol=0, atol=1e-6), name


@pytest.mark.slow
def test_compile_switch_trains_a_step_on_cpu_and_saves_plain_weights(digits, tmp_path):
    """training.compile wraps the network in torch.compile; the aot_eager backend traces the real
    graph (forward and backward) without inductor's C++ code generation, which takes minutes on a CPU."""
    settings = tiny(1, compile="aot_eager", snapshot_freq=1)
    settings["model"] = {"arch": "refinenet", "ngf": 2}
    log: list[str] = []
    record = run(digits, tmp_path, settings, log)
    assert record["settings"]["training"]["compile"] == "aot_eager"
    assert not any("training.compile on CPU" in line for line in log)  # the inductor warning only
    model, _, info = load_score_model(tmp_path / "out" / "checkpoints" / "ckpt_1.pt", torch.device("cpu"))
    assert info["iteration"] == 1 and not any(k.startswith("_orig_mod") for k in model.state_dict())
    assert torch.isfinite(next(iter(model.parameters()))).all()
    uncompiled = run(
        digits, tmp_path / "plain", {**settings, "training": {**settings["training"], "compile": False}}, []
    )
    plain, _, _ = load_score_model(tmp_path / "plain" / "out" / "checkpoints" / "ckpt_1.pt", torch.device("cpu"))
    for (name, a), b in zip(model.state_dict().items(), plain.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), name  # the compiled step is the same step
    assert uncompiled["settings"]["training"]["compile"] is False


def test_loss_csv_grows_while_training_runs_and_ends_as_the_published_log(digits, tmp_path):
    """A reader of loss.csv mid-run (``ncsn figure loss`` on a run in progress) sees every row logged so far."""
    seen: dict[int, list[str]] = {}
    loss_file = tmp_path / "out" / "loss.csv"

    def peek(iteration: int, seconds: float) -> bool:
        seen[iteration] = loss_file.read_text().splitlines()
        return False

    train(digits, tmp_path / "state", tmp_path / "out", tiny(8, snapshot_freq=8), threads=1, log=[].append, stop=peek)
    assert [line.split(",")[0] for line in seen[1]] == ["iteration"]  # the header before the first row
    assert [line.split(",")[0] for line in seen[7]] == ["iteration", "2", "4", "6"]
    final = loss_file.read_text().splitlines()
    assert final[: len(seen[7])] == seen[7] and [line.split(",")[0] for line in final] == [
        "iteration",
        "2",
        "4",
        "6",
        "8",
    ]


def test_a_chain_through_a_resume_point_keeps_adam_on_the_same_snapshots_as_one_run(digits, tmp_path):
    """A stop-early resume point is dropped before the spare is chosen: the chained run's snapshots hold
    Adam's moments exactly where an uninterrupted run's do (the SLURM test compares every tensor)."""
    from ncsn.train import StoppedEarly

    with pytest.raises(StoppedEarly):
        train(
            digits, tmp_path / "chain", tmp_path / "o1", tiny(6), threads=1, log=[].append, stop=lambda it, s: it == 5
        )
    train(digits, tmp_path / "chain", tmp_path / "o1", tiny(6), threads=1, log=[].append)
    run(digits, tmp_path / "straight", tiny(6))

    def with_adam(state_dir):
        return [it for it, path in list_checkpoints(state_dir) if load_checkpoint(path)["optimizer"] is not None]

    assert with_adam(tmp_path / "chain") == with_adam(tmp_path / "straight" / "state") == [4, 6]
