"""Training checkpoints: atomic save, discovery of complete ones, and loading a score model for sampling.

A checkpoint is one ``torch.save`` file ``ckpt_{iteration}.pt`` holding everything needed to
resume (weights, optimiser state, EMA weights, iteration, every RNG state, the loss log) and to
sample (the full model and schedule specs and the noise levels), so no caller has to guess them.
Only the two newest snapshots of a run keep the optimiser state (Adam's two moments, twice the
size of the weights: the newest, and a spare for when the newest is lost); older ones drop it
(``optimizer: None``), as selection, sampling and figures never read it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import re
import time
from pathlib import Path
from typing import Any, Iterator

import torch

from ncsn.errors import NcsnError
from ncsn.io import save_torch

FORMAT = "ncsn-checkpoint-v1"
# Snapshots of a run that keep the optimiser state: the newest and the one before (a spare).
OPTIMIZER_STATES_KEPT = 2
NAME_PATTERN = re.compile(r"^ckpt_(\d+)\.pt$")


LOCK_FILE = ".lock"


@contextlib.contextmanager
def state_dir_lock(directory: str | os.PathLike) -> Iterator[None]:
    """Hold the state folder's lock while training writes there: a second trainer on the same folder (a
    resubmitted job while the first still runs) stops at once, naming the holder, instead of writing
    beside it. A POSIX lock (``lockf``, honoured over NFS), released by the kernel when the holder dies."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_FILE
    handle = open(path, "a+")
    try:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise NcsnError(
                f"another training holds the state folder {directory} ({holder}); two trainers must never write one "
                "folder: wait for it to end (or stop it), then run this command again"
            ) from err
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {platform.node()}, since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock


def checkpoint_name(iteration: int) -> str:
    return f"ckpt_{iteration}.pt"


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` through a synced temporary file and a rename: never a partial file."""
    save_torch(path, dict(state, format=FORMAT))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; unreadable or foreign files are an ``NcsnError``."""
    path = Path(path)
    if not path.is_file():
        raise NcsnError(f"checkpoint {path} does not exist; train the model first (python -m ncsn train)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises RuntimeError, EOFError, pickle errors... for damaged files
        raise NcsnError(
            f"checkpoint {path} cannot be read ({type(err).__name__}: {err}); it is damaged or not a checkpoint"
        ) from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise NcsnError(f"{path} is not an ncsn checkpoint (expected format {FORMAT!r})")
    return state


def list_checkpoints(directory: str | os.PathLike) -> list[tuple[int, Path]]:
    """``(iteration, path)`` of every file named ``ckpt_{iteration}.pt`` in ``directory``, oldest first.

    Temporary files of an interrupted save (``.ckpt_N.pt.*.tmp``) never match the name.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := NAME_PATTERN.match(p.name)) and p.is_file()]
    return sorted(found)


def has_optimizer_state(path: str | os.PathLike) -> bool:
    """Whether a checkpoint file still holds optimiser state (read lazily: tensors are memory-mapped)."""
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True).get("optimizer") is not None


def drop_optimizer_states(directory: str | os.PathLike, keep: int = OPTIMIZER_STATES_KEPT) -> list[Path]:
    """Rewrite every checkpoint in ``directory`` without its optimiser state but the ``keep`` newest that hold
    one; returns those rewritten.

    Two are kept so that losing the newest file (a node dying mid-write, a full disk) still leaves a
    snapshot to resume from bit for bit. Each rewrite is atomic (a new file replaces the old), so a
    hard link elsewhere (a published checkpoint) keeps the old content until it is linked again.
    Unreadable files are left alone and not counted.
    """
    kept, rewritten = 0, []
    for _, path in reversed(list_checkpoints(directory)):
        try:
            if not has_optimizer_state(path):
                continue
            if kept < keep:
                kept += 1
                continue
            state = load_checkpoint(path)
        except Exception:  # a damaged file: latest_complete reports and skips it
            continue
        save_checkpoint(path, dict(state, optimizer=None))
        rewritten.append(path)
    return rewritten


def latest_complete(
    directory: str | os.PathLike, max_iteration: int | None = None, log=None
) -> tuple[dict[str, Any], Path] | None:
    """The newest checkpoint in ``directory`` (at most ``max_iteration``) that loads; damaged ones are skipped.

    A damaged file (e.g. truncated by a full disk or a crash of the file system) is reported
    through ``log`` and left in place; the next snapshot at that iteration replaces it.
    """
    for iteration, path in reversed(list_checkpoints(directory)):
        if max_iteration is not None and iteration > max_iteration:
            continue
        try:
            state = load_checkpoint(path)
        except NcsnError as err:
            if log is not None:
                log(f"skipping {err}")
            continue
        if state.get("iteration") != iteration:
            if log is not None:
                log(f"skipping {path}: it holds iteration {state.get('iteration')}, not {iteration}")
            continue
        return state, path
    return None


def load_score_model(
    path: str | os.PathLike, device: str | torch.device = "cpu", use_ema: bool | None = None
) -> tuple[torch.nn.Module, torch.Tensor, dict[str, Any]]:
    """Rebuild the trained score network of a checkpoint, in eval mode on ``device``.

    ``use_ema``: None -> the EMA weights when the checkpoint has them, else the raw weights;
    True -> EMA weights (an error if the run kept none); False -> raw weights.
    Returns ``(model, sigmas, info)`` with the descending noise levels on ``device`` and
    ``info`` = iteration, model and schedule specs, whether EMA weights were used, the path.
    """
    from ncsn.models import build_model  # imported here: checkpoint listing must not need the models

    device = torch.device(device)
    state = load_checkpoint(path)
    has_ema = state.get("ema") is not None
    if use_ema and not has_ema:
        raise NcsnError(
            f"use_ema=True but checkpoint {path} holds no EMA weights; train with training.ema: true or pass use_ema=False"
        )
    ema = has_ema if use_ema is None else bool(use_ema)
    model = build_model(state["model_spec"])
    model.load_state_dict(state["ema"] if ema else state["model"])
    model.to(device).eval()
    sigmas = state["sigmas"].to(device)
    info = {
        "path": str(path),
        "iteration": int(state["iteration"]),
        "model_spec": state["model_spec"],
        "schedule_spec": state["schedule_spec"],
        "ema": ema,
        "settings": state.get("settings", {}),
    }
    return model, sigmas, info
