"""Sandbox overhead per run: the `local` backend (bubblewrap) against a bare subprocess.

    python benchmarks/sandbox_overhead.py [--runs 100] [--trace]

For each trivial program (/bin/true, python3 -c pass) it prints the median wall time of a bare
`subprocess.run` (stdout/stderr captured), of `LocalBackend().run(...)` (temp work dir, uid
slot, cgroups, bubblewrap, rlimits, capped output), and the difference; plus the floor of
bubblewrap itself with the same namespaces and mounts (no uid drop, no limits) and the backend
without cgroups (moving the sandbox into its cgroups costs the kernel an RCU grace period, a
few ms of latency, not CPU, unless the hierarchy is mounted with favordynmods), and the backend
without its reaper (the perl process that reports the program's real wait status). Runs
alternate between the variants so that load from elsewhere hits them alike.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import time
from pathlib import Path

from codealchemy.tracer.backends import RunRequest
from codealchemy.tracer.backends.local import LocalBackend
from codealchemy.tracer.limits import Limits

PROGRAMS = {"/bin/true": ["/bin/true"], "python3 -c pass": ["/usr/bin/python3", "-c", "pass"]}


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def _cpu() -> float:
    """CPU ms of this process and its reaped children so far."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=100, help="runs per variant (at least 50)")
    ap.add_argument("--trace", action="store_true", help="open the trace channel too (as traced runs do)")
    args = ap.parse_args()
    runs = max(args.runs, 50)
    backend = LocalBackend()
    no_cgroups = LocalBackend(cgroups=False)
    no_reaper = LocalBackend()
    no_reaper.perl = None   # (the reaper runs only where perl was found)
    limits = Limits(timeout=10)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (wall times rise with it)")
    print(f"{'program':<16} {'bare ms':>8} {'bwrap ms':>9} {'local ms':>9} {'overhead ms':>12}"
          f" {'no-cgroup ms':>13} {'overhead ms':>12} {'no-reaper ms':>13}  (median of {runs})")
    cpu_rows = []
    for label, argv in PROGRAMS.items():
        req = RunRequest(files={}, run=argv, limits=limits, trace=args.trace)
        box = backend._box(argv, Path("/tmp"), backend.uid, limits, [])
        floor = box[:box.index("--info-fd")] + ["--", *argv]   # bubblewrap alone: same namespaces and mounts
        assert backend.run(req).run.status == "ok"
        bare, wrapped, local, plain, unreaped = [], [], [], [], []
        bare_cpu, local_cpu = [], []
        for _ in range(runs):
            c0 = _cpu()
            bare.append(timed(lambda: subprocess.run(argv, capture_output=True, check=True)))   # noqa: B023
            bare_cpu.append(_cpu() - c0)
            wrapped.append(timed(lambda: subprocess.run(floor, capture_output=True, check=True)))  # noqa: B023
            c0, out = _cpu(), []
            local.append(timed(lambda: out.append(backend.run(req))))   # noqa: B023
            local_cpu.append(_cpu() - c0 + out[0].run.cpu * 1000)   # + the sandbox's (its cgroup's)
            plain.append(timed(lambda: no_cgroups.run(req)))   # noqa: B023
            unreaped.append(timed(lambda: no_reaper.run(req)))   # noqa: B023
        b, w, x, y, z = (statistics.median(v) for v in (bare, wrapped, local, plain, unreaped))
        print(f"{label:<16} {b:8.2f} {w:9.2f} {x:9.2f} {x - b:12.2f} {y:13.2f} {y - b:12.2f} {z:13.2f}")
        cpu_rows.append((label, statistics.median(bare_cpu), statistics.median(local_cpu)))
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("CPU time per run, ms (host process + children; local: + the sandbox's cgroup), less load-bound:")
    for label, b, x in cpu_rows:
        print(f"  {label:<16} bare {b:6.2f}   local {x:6.2f}   overhead {x - b:6.2f}")


if __name__ == "__main__":
    main()
