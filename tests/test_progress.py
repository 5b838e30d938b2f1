"""Progress lines of long work: timestamped, at least once per interval, with done/total and the rate."""

from __future__ import annotations

import datetime
import io

import pytest

from ncsn.progress import Progress


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


NOW = datetime.datetime(2026, 1, 2, 3, 4, 5)


def test_a_log_line_per_interval_with_count_rate_and_eta():
    clock, lines = FakeClock(), []
    progress = Progress(1000, "sample", unit="steps", log=lines.append, terminal=False, clock=clock, now=lambda: NOW)
    for _ in range(100):  # 100 steps at 2 steps/s: 50 s, under the interval: silent
        clock.t += 0.5
        progress.update()
    assert lines == []
    for _ in range(30):  # 15 s more: the first update past 60 s writes one line
        clock.t += 0.5
        progress.update()
    assert lines == ["2026-01-02T03:04:05 sample: 120/1000 steps (12.0%), 2 steps/s, ETA 0:07:20"]
    clock.t += 30  # slow steps: the next line's rate covers only the 65 s since the last line
    progress.update(9)
    clock.t += 30
    progress.update(1)
    assert lines[-1] == "2026-01-02T03:04:05 sample: 140/1000 steps (14.0%), 0.308 steps/s, ETA 0:46:35"
    progress.set_postfix(loss="0.5")
    progress.update(860)
    progress.close()
    assert lines[-1].startswith("2026-01-02T03:04:05 sample: 1000/1000 steps (100.0%)") and lines[-1].endswith(
        "loss 0.5"
    )
    assert len(lines) == 3


def test_every_line_within_the_interval_whatever_the_speed():
    clock, lines = FakeClock(), []
    progress = Progress(10_000, "train", log=lines.append, terminal=False, clock=clock, now=lambda: NOW, interval=60)
    stamps = []
    for _ in range(10_000):
        clock.t += 0.037
        before = len(lines)
        progress.update()
        if len(lines) > before:
            stamps.append(clock.t)
    gaps = [b - a for a, b in zip([1000.0, *stamps], stamps)]
    assert len(stamps) == 6 and all(60 <= gap < 60.04 for gap in gaps), gaps


def test_a_terminal_gets_a_tqdm_bar_and_no_log_lines(monkeypatch):
    stream, lines = io.StringIO(), []
    monkeypatch.setattr("sys.stderr", stream)
    with Progress(50, "evaluate", unit="images", log=lines.append, terminal=True) as progress:
        progress.update(20)
        progress.write("a message")
    assert lines == []
    text = stream.getvalue()
    assert "evaluate" in text and "20/50" in text and "a message" in text


@pytest.mark.parametrize("total", [0, 5])
def test_close_without_work_writes_nothing(total):
    lines = []
    Progress(total, "score", log=lines.append, terminal=False).close()
    assert lines == []
