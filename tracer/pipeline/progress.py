"""Progress of a run, reported through one small interface; only the main process draws.

`RichProgress` is a bar for a terminal; `LineProgress` prints a plain line now and then, for
logs and CI where a bar would be a mess of control codes. `progress_for` picks by the stream.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import IO, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as Bar


class Progress(Protocol):
    def start(self, total: int, done: int) -> None:
        """`total` inputs to do in this invocation; `done` were finished by an earlier one."""

    def advance(self, status: str, facts: dict) -> None:
        """One input finished."""

    def close(self) -> None: ...


class _Tally:
    def __init__(self) -> None:
        self.statuses: Counter = Counter()
        self.total = 0
        self.started = time.monotonic()

    def start(self, total: int, done: int) -> None:
        self.total, self.started = total, time.monotonic()

    def count(self, status: str) -> None:
        self.statuses[status] += 1

    @property
    def finished(self) -> int:
        return sum(self.statuses.values())

    def rate(self) -> float:
        return self.finished / max(time.monotonic() - self.started, 1e-9)

    def stats(self) -> str:
        ordered = sorted(self.statuses.items(), key=lambda kv: (kv[0] != "ok", -kv[1], kv[0]))
        return "  ".join(f"{k} {v}" for k, v in ordered)


class LineProgress(_Tally):
    """A line every `every` seconds (and a last one): done/total, statuses, rate, time left."""

    def __init__(self, stream: IO[str], label: str, every: float = 10.0):
        super().__init__()
        self.stream, self.label, self.every = stream, label, every
        self._last = 0.0

    def start(self, total: int, done: int) -> None:
        super().start(total, done)
        self._last = time.monotonic()
        kept = f" ({done} done before)" if done else ""
        print(f"{self.label}: {total} inputs to do{kept}", file=self.stream, flush=True)

    def advance(self, status: str, facts: dict) -> None:
        self.count(status)
        if time.monotonic() - self._last >= self.every:
            self._line()

    def close(self) -> None:
        self._line()

    def _line(self) -> None:
        self._last = time.monotonic()
        rate = self.rate()
        left = (self.total - self.finished) / rate if rate else float("inf")
        eta = f"{left:.0f}s left" if left != float("inf") else "time left unknown"
        print(f"{self.label}: {self.finished}/{self.total}  {self.stats()}  {rate:.1f}/s  {eta}",
              file=self.stream, flush=True)


class RichProgress(_Tally):
    """A rich bar on a terminal: done/total, statuses, rate, elapsed and remaining time."""

    def __init__(self, stream: IO[str], label: str):
        super().__init__()
        self.label = label
        self._bar = Bar(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TextColumn("eta"),
                        TimeRemainingColumn(), console=Console(file=stream), transient=False)
        self._task = None

    def start(self, total: int, done: int) -> None:
        super().start(total, done)
        self._bar.start()
        self._task = self._bar.add_task(self.label, total=total, stats="")

    def advance(self, status: str, facts: dict) -> None:
        self.count(status)
        self._bar.update(self._task, advance=1, stats=f"{self.stats()}  {self.rate():.1f}/s")

    def close(self) -> None:
        self._bar.stop()


def progress_for(stream: IO[str] | None = None, label: str = "run", every: float = 10.0) -> Progress:
    """A bar on a terminal, plain lines every `every` seconds otherwise."""
    stream = stream or sys.stderr
    return RichProgress(stream, label) if stream.isatty() else LineProgress(stream, label, every)
