"""Hostile programs traced as a user traces them (`trace run --json`, the local backend with
bubblewrap): what they do to the trace channel, the CPU, the statuses and the host must show in
the footer, and must not cost the host more than the limits allow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from .conftest import TRACE

HOSTILE = Path(__file__).parent.parent / "sandbox" / "hostile"

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None or os.geteuid() != 0,
                                reason="written for the root (setpriv) bubblewrap sandbox")


def traced(program: str | Path, *args, env: dict | None = None, timeout: float = 300):
    """(footer, peak RSS in bytes of the `trace run` process and what it waited for)."""
    path = HOSTILE / program if isinstance(program, str) else program
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen([*TRACE, "run", "--json", str(path), *map(str, args)], stdout=subprocess.PIPE,
                                stderr=null, env={**os.environ, **(env or {})})
        last = b""
        for line in proc.stdout:   # (read as it comes: the events may be many)
            last = line
        _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) in (0, 1), status
    footer = json.loads(last)
    assert footer["kind"] == "footer", footer
    return footer, usage.ru_maxrss * 1024


def test_trace_channel_flood_costs_a_bounded_multiple_of_the_budget():
    """64 MB of tiny output records on fd 3 used to cost the host 2.8 GB (~40x): the decoder
    holds at most the budget (max_trace_bytes, 256 MiB by default) and says it cut the trace."""
    footer, peak = traced("fd3flood.py", env={"MB": "64"})
    assert footer["status"] == "ok", footer
    assert footer["truncated"] and footer["truncation"] == "max_trace_bytes", footer
    budget = 256 << 20
    assert peak < 2 * budget, f"trace run peaked at {peak >> 20} MiB"


def test_a_closed_trace_channel_is_reported():
    footer, _ = traced("fd3close.py")
    assert footer["status"] == "ok" and footer["events"] == 0, footer
    assert footer["channel"] == "closed_early", footer
    assert any("closed early" in n for n in footer["notes"]), footer["notes"]


def test_garbage_on_the_trace_channel_is_reported():
    footer, _ = traced("fd3garbage.py")
    assert footer["status"] == "ok" and footer["dropped"] == 3, footer
    assert footer["channel"] == "corrupt", footer


def test_a_cpu_hog_does_not_starve_the_run_beside_it():
    """60 spinning children of one run share that run's CPU weight: a 3-second CPU program run
    beside it still finishes (before, it got 1/61 of the CPUs and timed out)."""
    load = os.getloadavg()[0]
    if load > 2 * os.cpu_count():   # every runnable process elsewhere is an entity of its own too
        pytest.skip(f"load {load:.0f} on {os.cpu_count()} CPUs: a 3 s program gets no 3 s of CPU in 10 s here")
    got = {}
    hog = threading.Thread(target=lambda: got.__setitem__("hog", traced("cpuhog.py", "--timeout", 15)))
    hog.start()
    time.sleep(2)   # the hog is spinning by now
    started = time.monotonic()
    benign, _ = traced("cpuwork.py", "--timeout", 10)
    took = time.monotonic() - started
    hog.join()
    assert benign["status"] == "ok", benign
    assert benign["cpu"] >= 3.0, benign
    hog_footer = got["hog"][0]
    assert hog_footer["status"] == "timeout", hog_footer
    print(f"benign: {took:.1f} s wall for {benign['cpu']:.1f} s CPU beside the hog")
