"""Resumable training of a noise-conditional score network with denoising score matching.

Snapshots go to a *state dir* (``ckpt_{iteration}.pt`` every ``snapshot_freq`` iterations and at
the end). Started again on the same state dir, training continues from the newest complete
snapshot and, on CPU, ends bit-identical to an uninterrupted run: the snapshot holds weights,
optimiser state, EMA weights, the batcher's and the noise generator's states, the global torch
RNG states and the partly filled loss-log window; only the two newest snapshots keep the optimiser
state (older ones are rewritten without it, see ``ncsn.checkpoint``), so losing the newest file
still resumes bit for bit. Once the last iteration is reached the run is
*published* to an output dir: every snapshot (hard-linked), ``loss.csv`` and ``run.json``.
``loss.csv`` already grows there while training runs (a row every ``log_every`` iterations), so
``ncsn figure loss`` draws the current curve of a run in progress.
"""

from __future__ import annotations

import csv
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

import ncsn
from ncsn import device as devices
from ncsn.checkpoint import (
    checkpoint_name,
    drop_optimizer_states,
    latest_complete,
    list_checkpoints,
    save_checkpoint,
    state_dir_lock,
)
from ncsn.data import DeviceBatcher, load_split
from ncsn.errors import NcsnError
from ncsn.io import atomic_path
from ncsn.losses import annealed_ssm_loss, dsm_loss
from ncsn.models import build_model, count_parameters
from ncsn.progress import Progress
from ncsn.records import RUN
from ncsn.schedules import make_sigmas
from ncsn.settings import check_block, is_published, published_iterations

# Model keys the trainer fills from the data and the schedule (the train settings' defaults and checks:
# the schema's envelope `train`).
FILLED_MODEL_KEYS = ("channels", "image_size", "num_classes")

Log = Callable[[str], None]
# training.algo -> per-example loss (score_fn, x, sigmas, levels, generator)
LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "dsm": lambda score, x, sigmas, levels, gen: dsm_loss(
        score, x, sigmas, levels=levels, generator=gen, reduction="none"
    ),
    "ssm": lambda score, x, sigmas, levels, gen: annealed_ssm_loss(
        score, x, sigmas, levels, generator=gen, reduction="none"
    ),
}


def compile_backend(switch: bool | str) -> str | None:
    """The torch.compile backend of ``training.compile``: true means inductor, false none."""
    if switch is True:
        return "inductor"
    return switch or None


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------- settings


def resolve_settings(settings: dict[str, Any], image_shape: tuple[int, ...]) -> dict[str, Any]:
    """The filled envelope ``{model, schedule, training, device, seed, flip}`` (the schema's ``envelopes.train``,
    checked by ``ncsn.settings.check_envelope``) with the model block filled and checked.

    The model block is the one block of the envelope checked here, once the trainer knows the model's
    ``channels``/``image_size`` from the data (NHWC shape ``image_shape``) and ``num_classes`` from the
    schedule; any inconsistency or unknown key is an ``NcsnError`` raised before training starts. The
    complete schedule travels with every checkpoint, so sampling never guesses.
    """
    job = settings
    _, height, width, channels = image_shape
    if height != width:
        raise NcsnError(
            f"the training images are {height}x{width}; the score networks need square images (prepare the data with a square crop)"
        )
    given = job["model"]
    model = check_block("model", {key: value for key, value in given.items() if key not in FILLED_MODEL_KEYS})
    for key, value in zip(FILLED_MODEL_KEYS, (channels, height, job["schedule"]["num_levels"])):
        if key in given and given[key] != value:
            raise NcsnError(
                f"model.{key} is {given[key]!r} but the data/schedule give {value}; leave model.{key} out, the trainer fills it in"
            )
        model[key] = value
    return {**job, "model": model}


# ------------------------------------------------------------------------------ training state


def stream_seeds(*entropy: int) -> tuple[int, int]:
    """Two independent 63-bit seeds (batches, noise) derived from ``entropy`` (numpy's SeedSequence)."""
    return tuple(
        int(s.generate_state(1, np.uint64)[0] >> np.uint64(1)) for s in np.random.SeedSequence(list(entropy)).spawn(2)
    )


# Devices with a fused (one kernel per parameter) Adam; elsewhere torch's default loop is used.
FUSED_ADAM_DEVICES = frozenset({"cpu", "cuda"})


def make_adam(model: torch.nn.Module, cfg: dict[str, Any], device: torch.device) -> torch.optim.Adam:
    """The official optimiser (Adam with the configured lr, betas, eps, weight decay), fused where
    torch has a fused kernel: the same update, computed in one pass per parameter instead of a dozen
    small ops (6 ms -> 1 ms per step for the 173 tensors of CondRefineNet on one CPU thread)."""
    return torch.optim.Adam(
        model.parameters(),
        lr=cfg["lr"],
        betas=(cfg["beta1"], cfg["beta2"]),
        eps=cfg["adam_eps"],
        weight_decay=cfg["weight_decay"],
        fused=device.type in FUSED_ADAM_DEVICES or None,
    )


class Trainer:
    """One training session: model, optimiser, EMA, generators and the loss-log window."""

    def __init__(
        self, settings: dict[str, Any], images: np.ndarray, sigmas: torch.Tensor, device: torch.device
    ) -> None:
        cfg = self.cfg = settings["training"]
        self.settings, self.device = settings, device
        self.sigmas = sigmas.to(device)
        batch_seed, noise_seed = stream_seeds(settings["seed"])
        devices.tune(device)
        torch.manual_seed(settings["seed"])  # model initialisation
        self.model = devices.to_channels_last(build_model(settings["model"]).to(device), cfg["channels_last"])
        self.num_parameters = count_parameters(self.model)
        self.forward = (
            torch.compile(self.model, backend=compile_backend(cfg["compile"])) if cfg["compile"] else self.model
        )
        self.optimizer = make_adam(self.model, cfg, device)
        self.ema = {k: v.detach().clone() for k, v in self.model.state_dict().items()} if cfg["ema"] else None
        if self.ema is not None:  # the EMA's pairs, listed once: one foreach call per step instead of 170 lerps
            params = dict(self.model.named_parameters())
            self.ema_params = ([self.ema[name] for name in params], list(params.values()))
            self.ema_buffers = [(self.ema[name], b) for name, b in self.model.named_buffers() if name in self.ema]
        self.batcher = DeviceBatcher(
            images,
            cfg["batch_size"],
            device,
            flip=settings["flip"],
            generator=torch.Generator(device=device).manual_seed(batch_seed),
            dequantize=cfg["dequantize"],
        )
        self.noise = torch.Generator(device=device).manual_seed(noise_seed)
        num_levels = self.sigmas.numel()
        self.level_sum = torch.zeros(num_levels, dtype=torch.float64, device=device)
        self.level_count = torch.zeros(num_levels, dtype=torch.float64, device=device)
        self.first_bad = torch.full((), -1, dtype=torch.long, device=device)  # first iteration with a non-finite loss
        self.iteration = 0
        self.loss_log: list[list[float]] = []
        self.sessions: list[dict[str, Any]] = []

    # one optimisation step ---------------------------------------------------------------
    def score(self, x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
        with devices.autocast(self.device, self.cfg["amp"]):
            return self.forward(x, levels).float()

    def step(self) -> None:
        x = devices.to_channels_last(self.batcher.next(), self.cfg["channels_last"])
        levels = torch.randint(self.sigmas.numel(), (x.shape[0],), generator=self.noise, device=self.device)
        losses = LOSSES[self.cfg["algo"]](self.score, x, self.sigmas, levels, self.noise)
        loss = losses.mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg["grad_clip"] is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg["grad_clip"])
        self.optimizer.step()
        self.iteration += 1
        if self.ema is not None:
            self.update_ema()
        detached = losses.detach().to(torch.float64)
        self.level_sum.index_add_(0, levels, detached)
        self.level_count.index_add_(0, levels, torch.ones_like(detached))
        bad = ~torch.isfinite(loss.detach()) & (self.first_bad < 0)
        self.first_bad = torch.where(bad, torch.full_like(self.first_bad, self.iteration), self.first_bad)

    @torch.no_grad()
    def update_ema(self) -> None:
        """NCSNv2's EMA of the parameters (``ema <- rate * ema + (1 - rate) * param``); buffers are copied."""
        torch._foreach_lerp_(*self.ema_params, 1.0 - self.cfg["ema_rate"])
        for ema, buffer in self.ema_buffers:
            ema.copy_(buffer)

    # loss log ------------------------------------------------------------------------------
    def close_window(self, seconds: float, iterations: int) -> list[float]:
        """Append a loss-log row (iteration, mean loss, mean loss per level, it/s) and reset the window."""
        sums, counts = self.level_sum.cpu(), self.level_count.cpu()
        mean = float(sums.sum() / counts.sum()) if counts.sum() > 0 else float("nan")
        per_level = [float(s / c) if c > 0 else float("nan") for s, c in zip(sums, counts)]
        row = [self.iteration, mean, *per_level, iterations / seconds if seconds > 0 else float("nan")]
        self.loss_log.append(row)
        self.level_sum.zero_()
        self.level_count.zero_()
        return row

    def check_finite(self, last_good: Path | None) -> None:
        """Raise if any loss since the start was NaN/Inf; nothing non-finite is ever saved."""
        bad = int(self.first_bad)
        if bad >= 0:
            where = (
                f"the last good checkpoint {last_good} is left untouched"
                if last_good
                else "no checkpoint had been written yet"
            )
            raise NcsnError(
                f"training diverged: the loss became NaN or Inf at iteration {bad}; {where}. "
                f"Lower training.lr (now {self.cfg['lr']}) or set training.grad_clip, then run again "
                "(training resumes from the last good checkpoint)"
            )

    # checkpoints ---------------------------------------------------------------------------
    def state(self, session: dict[str, Any]) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state(), "batcher": self.batcher.state_dict(), "noise": self.noise.get_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "iteration": self.iteration,
            "num_parameters": self.num_parameters,
            "model_spec": self.settings["model"],
            "schedule_spec": self.settings["schedule"],
            "sigmas": self.sigmas.cpu(),
            "settings": self.settings,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "ema": self.ema,
            "rng": rng,
            "window": {"level_sum": self.level_sum.cpu(), "level_count": self.level_count.cpu()},
            "loss_log": self.loss_log,
            "sessions": [*self.sessions, session],
        }

    def load(self, state: dict[str, Any], log: Log = _stderr) -> None:
        self.model.load_state_dict(state["model"])
        if state["optimizer"] is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        else:  # only when the two newest snapshots were lost: older ones keep no optimiser state
            log(
                f"note: the snapshot at iteration {state['iteration']} keeps no optimiser state (only the two newest ones do, and "
                "they are missing or damaged); Adam's moments restart from zero: the run continues, but not bit-identical to an "
                "uninterrupted one"
            )
        for group in self.optimizer.param_groups:  # the current settings win over the snapshot's (e.g. a lowered lr)
            group.update(
                lr=self.cfg["lr"],
                betas=(self.cfg["beta1"], self.cfg["beta2"]),
                eps=self.cfg["adam_eps"],
                weight_decay=self.cfg["weight_decay"],
            )
        if self.ema is not None:
            if state["ema"] is None:
                raise NcsnError(
                    "training.ema is on but the snapshot to resume from has no EMA weights; start a fresh state dir or set training.ema: false"
                )
            for name, value in state["ema"].items():
                self.ema[name].copy_(value)
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        batcher, noise = rng["batcher"], rng["noise"]
        trained_on = state["sessions"][-1]["device"]["type"]
        if trained_on != self.device.type:
            # generator states are device-specific: continue with streams seeded from (seed, iteration)
            log(
                f"note: the snapshot was trained on {trained_on}, this session runs on {self.device.type}; the batch and "
                "noise streams restart from (seed, iteration): reproducible, but not identical to a run that stayed on one device"
            )
            batch_seed, noise_seed = stream_seeds(self.settings["seed"], int(state["iteration"]))
            batcher = dict(batcher, generator=torch.Generator(device=self.device).manual_seed(batch_seed).get_state())
            noise = torch.Generator(device=self.device).manual_seed(noise_seed).get_state()
        self.batcher.load_state_dict(batcher)
        self.noise.set_state(noise)
        self.level_sum.copy_(state["window"]["level_sum"])
        self.level_count.copy_(state["window"]["level_count"])
        self.iteration = int(state["iteration"])
        self.loss_log = [list(row) for row in state["loss_log"]]
        self.sessions = list(state["sessions"])


# ------------------------------------------------------------------------------------- driver


def train(
    data_path: str | os.PathLike,
    state_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    settings: dict[str, Any],
    threads: int | None = None,
    log: Log = _stderr,
    stop: Callable[[int, float], str | bool] | None = None,
) -> dict[str, Any]:
    """Train (or resume, or just publish) the run described by ``settings``; returns the run record.

    ``data_path`` is a prepared ``train.npz``; snapshots go to ``state_dir``; the finished run
    is published to ``out_dir`` (``checkpoints/``, ``loss.csv``, ``run.json``). ``threads``:
    CPU threads for torch (default: every CPU this process may use). ``stop`` is asked after every
    iteration, with its number and the seconds it took: when it says yes (or gives a reason, such as
    "on SIGTERM"), training snapshots where it is and raises :class:`StoppedEarly` (a wall-time limit
    near, a signal; the next session resumes there).
    """
    images, _ = load_split(data_path)
    settings = resolve_settings(settings, images.shape)
    sigmas = make_sigmas(settings["schedule"])
    cfg = settings["training"]
    device = devices.select_device(settings["device"])
    if cfg["amp"] and device.type == "cpu":
        log(
            "note: training.amp (bf16 autocast) on CPU was measured several times slower than fp32 for CondRefineNet (benchmarks/bench_train.py)"
        )
    if compile_backend(cfg["compile"]) == "inductor" and device.type == "cpu":
        log(
            "note: training.compile on CPU spends many minutes compiling CondRefineNet before the first step; it is meant for CUDA"
        )
    if cfg["batch_size"] > len(images):
        log(f"note: batch_size {cfg['batch_size']} exceeds the {len(images)} training images; batches repeat images")
    state_dir, out_dir = Path(state_dir), Path(out_dir)
    with state_dir_lock(state_dir):
        return _train_locked(images, state_dir, out_dir, settings, sigmas, device, threads, log, stop)


def _train_locked(
    images: np.ndarray,
    state_dir: Path,
    out_dir: Path,
    settings: dict[str, Any],
    sigmas: torch.Tensor,
    device: torch.device,
    threads: int | None,
    log: Log,
    stop: Callable[[int, float], str | bool] | None,
) -> dict[str, Any]:
    """:func:`train` once it holds the state folder's lock."""
    cfg = settings["training"]
    found = latest_complete(state_dir, max_iteration=cfg["iterations"], log=log)
    if found is not None:
        _check_compatible(found[0], settings, found[1])
    if found is not None and found[0]["iteration"] == cfg["iterations"]:
        log(f"training already complete at iteration {cfg['iterations']} ({found[1]}); publishing")
        return publish(state_dir, out_dir, found[0])

    threads_used = devices.setup_threads(threads)
    trainer = Trainer(settings, images, sigmas, device)
    last_good: Path | None = None
    if found is not None:
        trainer.load(found[0], log)
        last_good = found[1]
        log(f"resuming from {found[1]} (iteration {trainer.iteration} of {cfg['iterations']})")
    else:
        log(
            f"starting a new run in {state_dir} ({trainer.num_parameters:,} parameters, device {device}, {threads_used} CPU threads)"
        )
    session = {
        "start_iteration": trainer.iteration,
        "device": devices.describe(device),
        "host": platform.node(),
        "slurm_job": os.environ.get("SLURM_JOB_ID"),
    }
    live_loss = out_dir / LOSS_FILE  # grows every log_every iterations; publish rewrites it whole
    write_loss_log(live_loss, len(sigmas), trainer.loss_log)
    started = window_start = time.perf_counter()
    window_iteration = trainer.iteration
    bar = Progress(cfg["iterations"], "train", initial=trainer.iteration, log=log)
    say = bar.write
    with bar:
        while trainer.iteration < cfg["iterations"]:
            step_started = time.perf_counter()
            trainer.step()
            bar.update(1)
            it = trainer.iteration
            at_snapshot = is_published(it, cfg)
            stopping = stop is not None and not at_snapshot and stop(it, time.perf_counter() - step_started)
            if stopping and not isinstance(stopping, str):
                stopping = "before the wall-time limit"
            if it % cfg["log_every"] == 0 or at_snapshot:
                trainer.check_finite(last_good)
            if it % cfg["log_every"] == 0:
                now = time.perf_counter()
                row = trainer.close_window(now - window_start, it - window_iteration)
                append_loss_row(live_loss, row)
                window_start, window_iteration = now, it
                bar.set_postfix(loss=f"{row[1]:.4g}")
                if not bar.on_terminal:
                    say(f"iteration {it}/{cfg['iterations']}  loss {row[1]:.5g}  {row[-1]:.3g} it/s")
            if at_snapshot:
                if it == cfg["iterations"] and it % cfg["log_every"] != 0:
                    now = time.perf_counter()
                    trainer.close_window(now - window_start, it - window_iteration)
                seconds = time.perf_counter() - started
                last_good = state_dir / checkpoint_name(it)
                final = trainer.state({**session, "end_iteration": it, "seconds": seconds})
                save_checkpoint(last_good, final)
                _drop_resume_points(state_dir, cfg, keep=it)  # first: they hold no spare
                drop_optimizer_states(state_dir)
                say(f"saved {last_good}")
            if stopping:
                trainer.check_finite(last_good)
                seconds = time.perf_counter() - started
                resume_point = state_dir / checkpoint_name(it)
                ended = {**session, "end_iteration": it, "seconds": seconds, "stopped": stopping}
                save_checkpoint(resume_point, trainer.state(ended))
                _drop_resume_points(state_dir, cfg, keep=it)
                drop_optimizer_states(state_dir)
                raise StoppedEarly(
                    f"stopped at iteration {it} of {cfg['iterations']} {stopping}; saved "
                    f"{resume_point}: run the same command again to resume there"
                )
    return publish(state_dir, out_dir, final)


class StoppedEarly(NcsnError):
    """Training stopped before its last iteration (a wall-time limit near, a signal), after a snapshot to resume from."""


def _drop_resume_points(state_dir: Path, training: dict[str, Any], keep: int) -> None:
    """Delete the stop-early snapshots (never published) older than iteration ``keep``: a newer snapshot supersedes them."""
    for it, path in list_checkpoints(state_dir):
        if it < keep and not is_published(it, training):
            path.unlink(missing_ok=True)


def _check_compatible(state: dict[str, Any], settings: dict[str, Any], path: Path) -> None:
    """A state dir belongs to one model, schedule and seed; anything else needs a fresh state dir."""
    for key, stored, now in (
        ("model", state["model_spec"], settings["model"]),
        ("schedule", state["schedule_spec"], settings["schedule"]),
        ("seed", state["settings"]["seed"], settings["seed"]),
        ("training.ema", state["settings"]["training"]["ema"], settings["training"]["ema"]),
    ):
        if stored != now:
            raise NcsnError(
                f"the state dir holds {path} trained with {key} = {stored!r}, but the settings now say {now!r}; "
                "restore the old settings to resume, or use a different --state-dir to start a new run"
            )


# ------------------------------------------------------------------------------------ loss log

LOSS_FILE = "loss.csv"


def loss_header(num_levels: int) -> list[str]:
    return ["iteration", "loss", *(f"loss_level_{i}" for i in range(num_levels)), "it_per_s"]


def loss_line(row: list[float]) -> list[str]:
    return [str(int(row[0])), *(f"{v:.8g}" for v in row[1:])]


def write_loss_log(path: Path, num_levels: int, rows: list[list[float]]) -> None:
    """The whole loss log as CSV, replacing ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(loss_header(num_levels))
            writer.writerows(loss_line(row) for row in rows)


def append_loss_row(path: Path, row: list[float]) -> None:
    """One more row of the live loss log (flushed, so a reader sees the curve while training runs)."""
    with open(path, "a", newline="") as handle:
        csv.writer(handle).writerow(loss_line(row))


# ------------------------------------------------------------------------------------ publish


def publish(state_dir: Path, out_dir: Path, final: dict[str, Any]) -> dict[str, Any]:
    """Link every snapshot up to the final iteration into ``out_dir/checkpoints``; write loss.csv and run.json."""
    iterations = int(final["iteration"])
    # the checkpoints a run of the final length publishes (the workflow plans its jobs from the same list)
    published = set(published_iterations({**final["settings"]["training"], "iterations": iterations}))
    snapshots = [(it, path) for it, path in list_checkpoints(state_dir) if it in published]
    for _, path in snapshots:
        _link_or_copy(path, out_dir / "checkpoints" / path.name)
    write_loss_log(out_dir / LOSS_FILE, final["sigmas"].numel(), final["loss_log"])
    sessions = final["sessions"]
    seconds = sum(s["seconds"] for s in sessions)
    trained = sum(s["end_iteration"] - s["start_iteration"] for s in sessions)
    record = {
        "iterations": iterations,
        "settings": final["settings"],
        "sigmas": [float(s) for s in final["sigmas"]],
        "parameters": final["num_parameters"],
        "seed": final["settings"]["seed"],
        "device": sessions[-1]["device"],
        "wall_time_s": round(seconds, 3),
        "it_per_s": trained / seconds if seconds > 0 else None,
        "sessions": sessions,
        "checkpoints": [path.name for _, path in snapshots],
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "ncsn": ncsn.__version__,
            "cuda": torch.version.cuda,
        },
    }
    RUN.write(out_dir / "run.json", record)
    return record


def _link_or_copy(source: Path, target: Path) -> None:
    """Hard-link ``source`` to ``target`` (copy across file systems), replacing ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copy2(source, tmp)
