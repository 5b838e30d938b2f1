"""What a SLURM job knows of itself: where it runs (logged by every command) and when it will be
killed, and when training should stop before that.

A training longer than a cluster's time limit runs as a chain of submissions: each one trains
until shortly before its own limit, snapshots, and exits with :data:`EXIT_RESUME`; the rule's
retries submit the next one, which resumes from that snapshot (docs/running.md, "Time limits").
The same happens on the signals a cluster sends before it kills a job (:data:`STOP_SIGNALS`:
SIGTERM at ``scancel`` and pre-emption, SIGUSR1 where a site signals ahead with ``--signal``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from contextlib import contextmanager
from typing import Callable, Iterator

# Status of a training that stopped early to beat its time limit (EX_TEMPFAIL: "try again").
EXIT_RESUME = 75
# What a SLURM job was given, as the job itself sees it: partition, node, GPUs (a job step, as the
# executor runs each rule, sees SLURM_STEP_GPUS; the batch script SLURM_JOB_GPUS).
PLACEMENT_VARIABLES = (
    "SLURM_JOB_ID",
    "SLURM_JOB_PARTITION",
    "SLURMD_NODENAME",
    "SLURM_JOB_GPUS",
    "SLURM_STEP_GPUS",
    "CUDA_VISIBLE_DEVICES",
)
# Signals that ask a job to end soon: Slurm's SIGTERM (scancel, pre-emption, the time limit; SIGKILL
# follows after KillWait or the partition's GraceTime) and SIGUSR1 (sbatch --signal=USR1@SECONDS).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
_TIME_LEFT = re.compile(r"^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$")


def placement() -> str | None:
    """One log line naming the SLURM job this process runs in, its partition, node and GPUs (None
    outside SLURM): a job's own log then says which card it had, whatever the scheduler records."""
    if not os.environ.get("SLURM_JOB_ID"):
        return None
    return "ncsn: SLURM job " + " ".join(f"{name}={os.environ.get(name, '')}" for name in PLACEMENT_VARIABLES)


def parse_time_left(text: str) -> float | None:
    """Seconds in squeue's ``%L`` (``[days-][hours:]minutes:seconds``); None for UNLIMITED, NOT_SET, INVALID."""
    match = _TIME_LEFT.match(text.strip())
    if not match:
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def slurm_deadline() -> float | None:
    """``time.time()`` at which the SLURM job this process belongs to reaches its limit; None outside
    a job, for a job without limit, or when squeue cannot say."""
    job = os.environ.get("SLURM_JOB_ID")
    if not job:
        return None
    try:
        out = subprocess.run(["squeue", "-h", "-j", job, "-o", "%L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    left = parse_time_left(out.splitlines()[0]) if out.strip() else None
    return None if left is None else time.time() + left


def stop_rule(deadline: float | None, margin: float) -> Callable[[int, float], bool] | None:
    """A ``stop(iteration, seconds it took)`` predicate for ``ncsn.train.train``: yes once the next
    iteration and ``margin`` seconds (``cluster.stop_margin``: the snapshot and the exit) would no
    longer fit before ``deadline``; None when there is no deadline."""
    if deadline is None:
        return None
    return lambda _iteration, step_seconds: time.time() + margin + 2 * step_seconds >= deadline


StopRule = Callable[[int, float], "str | bool"]


@contextmanager
def caught_stop_signals() -> Iterator[Callable[[], str | None]]:
    """While inside, :data:`STOP_SIGNALS` are recorded instead of ending the process; yields a function
    that returns the name of the first one received (None before). The handlers are restored on exit."""
    received: list[str] = []

    def note(signum: int, _frame: object) -> None:
        received.append(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, note) for sig in STOP_SIGNALS}
    try:
        yield lambda: received[0] if received else None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_on_signal_or_deadline(signalled: Callable[[], str | None], deadline_rule: StopRule | None) -> StopRule:
    """A ``stop`` predicate for ``ncsn.train.train`` that says why: a signal's name once one arrived, else
    what ``deadline_rule`` says."""

    def stop(iteration: int, step_seconds: float) -> str | bool:
        name = signalled()
        if name:
            return f"on {name}"
        return bool(deadline_rule and deadline_rule(iteration, step_seconds))

    return stop
