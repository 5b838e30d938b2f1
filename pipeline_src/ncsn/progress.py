"""Progress of long work: a tqdm bar on a terminal, timestamped lines in a log file.

Train, sample, score, evaluate and ref-stats run for minutes to days. On a terminal they show a
tqdm bar; when stderr is a file (a Snakemake ``log:``) they write a line such as
``2026-01-01T10:00:00 sample: 1200/10000 steps (12.0%), 1.41 steps/s, ETA 1:44:01`` at most
every ``interval`` seconds (default 60) while work is done, and a last line at the end.
"""

from __future__ import annotations

import datetime
import math
import sys
import time
from typing import Any, Callable

INTERVAL_S = 60.0


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Progress:
    """Count ``update(n)`` calls towards ``total``; show them as a bar or as periodic log lines."""

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str = "it",
        initial: int = 0,
        interval: float = INTERVAL_S,
        log: Callable[[str], None] = _stderr,
        terminal: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime.datetime] = datetime.datetime.now,
    ) -> None:
        self.total, self.desc, self.unit, self.interval = int(total), desc, unit, interval
        self.log, self.clock, self.now = log, clock, now
        self.done = self.line_done = int(initial)
        self.line_time = clock()
        self.postfix: dict[str, Any] = {}
        self.bar = None
        self.on_terminal = sys.stderr.isatty() if terminal is None else terminal
        if self.on_terminal:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, initial=self.done, unit=unit, desc=desc, dynamic_ncols=True)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.clock() - self.line_time >= self.interval:
            self._line()

    def set_postfix(self, **values: Any) -> None:
        """Values shown beside the count (e.g. the loss), on the bar or in the next line."""
        self.postfix = values
        if self.bar is not None:
            self.bar.set_postfix(**values)

    def write(self, message: str) -> None:
        """A message that does not break the bar."""
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            self.log(message)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.done > self.line_done:
            self._line()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _line(self) -> None:
        t = self.clock()
        elapsed = t - self.line_time
        rate = (self.done - self.line_done) / elapsed if elapsed > 0 else math.nan
        percent = 100.0 * self.done / self.total if self.total else 100.0
        left = self.total - self.done
        eta = str(datetime.timedelta(seconds=round(left / rate))) if rate > 0 else "?"
        extra = "".join(f", {key} {value}" for key, value in self.postfix.items())
        self.log(
            f"{self.now().isoformat(timespec='seconds')} {self.desc}: {self.done}/{self.total} {self.unit} "
            f"({percent:.1f}%), {rate:.3g} {self.unit}/s, ETA {eta}{extra}"
        )
        self.line_time, self.line_done = t, self.done
