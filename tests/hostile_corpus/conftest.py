"""Plumbing for the hostile-corpus suite: `trace batch` run as a user runs it, on corpora built
to hurt the host side (links, FIFOs, poison rows, kills of the main pid); after each case every
input must have exactly one record and nothing may be left running.

Fixtures: `trace` runs any `trace` command; `batch` runs `trace batch ARGS` to the end;
`start_batch` starts it in its own session (so a test can signal the main pid alone or the
whole group); `index` reads a dump's index strictly (an unreadable entry fails the test);
`interrupted` signals a running batch once it has marked some shards; `survivors` says
which of its processes outlived it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codealchemy.tracer import records

TRACE = [sys.executable, "-m", "codealchemy.tracer.cli"]


@pytest.fixture
def trace():
    def run(*args, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([*TRACE, *map(str, args)], capture_output=True, timeout=timeout)
    return run


@pytest.fixture
def batch():
    def run(*args, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
        return subprocess.run([*TRACE, "batch", *map(str, args), "--timeout", "2"], capture_output=True,
                              timeout=timeout, **kw)
    return run


@pytest.fixture
def start_batch():
    started: list[subprocess.Popen] = []

    def start(*args) -> subprocess.Popen:
        proc = subprocess.Popen([*TRACE, "batch", *map(str, args), "--timeout", "2"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        started.append(proc)
        return proc

    yield start
    for proc in started:   # whatever a test left (its assertions failed midway)
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()


@pytest.fixture
def index():
    def read(dump: Path) -> list[dict]:
        entries = records.dump_index(dump)
        for e in entries:
            records.dump_trace(dump, e)   # every entry must read back
        return entries
    return read


def wait_for(predicate, timeout: float = 300, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(entry))
    return kids


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def slow_corpus():
    """A folder of n programs that each take a moment, so a signal lands mid-shard."""
    def make(root: Path, n: int = 16) -> list[str]:
        root.mkdir()
        for i in range(n):
            (root / f"slow_{i:02d}.py").write_text(f"import time\ntime.sleep(0.4)\nprint({i})\n")
        return sorted(str(p) for p in root.iterdir())
    return make


@pytest.fixture
def interrupted():
    """Start `trace batch ARGS` and send `sig` (to the main pid alone, or its whole group as a
    terminal's Ctrl-C does) once `after` shards are marked; returns (exit code, descendants the
    batch had when signalled)."""
    def run(args: list, sig: int, *, group: bool, after: int = 1):
        dump = Path(args[args.index("--out") + 1])
        proc = subprocess.Popen([*TRACE, "batch", *map(str, args), "--timeout", "2"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        started.append(proc)
        assert wait_for(lambda: len(list(dump.glob("*.index.jsonl"))) >= after), "the batch made no progress"
        family = _descendants(proc.pid)
        families.append(family)
        (os.killpg if group else os.kill)(proc.pid, sig)
        proc.wait(timeout=60)
        return proc.returncode, family

    started: list[subprocess.Popen] = []
    families: list[set[int]] = []
    yield run
    for proc in started:      # what a failed test left: the batch, and any process it had
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
    for pid in set().union(*families):
        if alive(pid):
            os.kill(pid, 9)


def _descendants(pid: int) -> set[int]:
    kids, found, todo = children(), set(), [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            if k not in found:
                found.add(k)
                todo.append(k)
    return found


@pytest.fixture
def survivors():
    """Of these pids, the ones still running after a grace period (a kill takes a moment)."""
    def left(pids: set[int], grace: float = 15) -> list[int]:
        wait_for(lambda: not any(alive(p) for p in pids), timeout=grace, step=0.1)
        return sorted(p for p in pids if alive(p))
    return left
