"""What a C++ probe costs: one CPU-bound program, untraced and traced, side by side.

Compiles the fixture instrumenters/cpp/tests/fixtures/bench_loop.cpp (Collatz walks and digit
sums, made bigger with -DLIMIT) twice with the runtime's own g++ flags: as written, and as
instrumented. Runs both directly (no sandbox: the sandbox's start-up is not the probes'
cost), the traced one with the trace channel on a file, as the backends do. Prints, from
one invocation, the best-of-N CPU times (user + system of the child: steadier than wall time
on a shared machine; wall times too), the number of events and the extra nanoseconds per
event: (traced - untraced) / events.

    python benchmarks/cpp_event_cost.py [--limit 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codealchemy.tracer import plugins
from codealchemy.tracer.instrument import Instrumented, instrument

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "instrumenters" / "cpp" / "tests" / "fixtures" / "bench_loop.cpp"


def flags() -> list[str]:
    """The runtime's compile flags (runtime.toml), less the output and source arguments."""
    compile_ = plugins.languages().get("cpp").runtime.compile
    out = []
    skip = False
    for a in compile_[1:]:
        if skip:
            skip = False
            continue
        if a == "-o":
            skip = True
            continue
        if a != "{source}":
            out.append(a)
    return out


def build(work: Path, name: str, code: str, files: dict[str, bytes], limit: int) -> Path:
    for fname, data in files.items():
        (work / fname).write_bytes(data)
    src = work / f"{name}.cpp"
    src.write_text(code)
    exe = work / name
    subprocess.run(["g++", *flags(), f"-DLIMIT={limit}", "-o", str(exe), str(src)], check=True, cwd=work)
    return exe


def timed(exe: Path, work: Path, trace: Path | None) -> tuple[float, float, bytes]:
    """(CPU seconds, wall seconds, stdout) of one run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEALCHEMY_")}
    fds: tuple[int, ...] = ()
    fh = None
    if trace is not None:
        fh = trace.open("wb")
        fds = (fh.fileno(),)
        env.update(CODEALCHEMY_TRACE_FD=str(fh.fileno()), CODEALCHEMY_MAX_EVENTS=str(10**9),
                   CODEALCHEMY_MAX_VALUE="200")
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        out = subprocess.run([str(exe)], cwd=work, env=env, capture_output=True, check=True, pass_fds=fds).stdout
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        if fh is not None:
            fh.close()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=20000, help="LIMIT of bench_loop.cpp (work grows with it)")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each; the best is kept")
    args = ap.parse_args(argv)

    source = FIXTURE.read_text(encoding="utf-8")
    inst = instrument(source, plugins.languages().get("cpp"))
    if not isinstance(inst, Instrumented):
        print(f"cannot instrument {FIXTURE.name}: {inst}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="cpp-event-cost-") as tmp:
        work = Path(tmp)
        plain = build(work, "plain", source, {}, args.limit)
        traced = build(work, "traced", inst.code, inst.files, args.limit)
        trace = work / "trace"
        plain_cpu = plain_wall = traced_cpu = traced_wall = float("inf")
        for _ in range(args.repeat):
            cpu, wall, out_plain = timed(plain, work, None)
            plain_cpu, plain_wall = min(plain_cpu, cpu), min(plain_wall, wall)
            cpu, wall, out_traced = timed(traced, work, trace)
            traced_cpu, traced_wall = min(traced_cpu, cpu), min(traced_wall, wall)
        if out_plain != out_traced:
            print("stdout differs between the traced and untraced runs", file=sys.stderr)
            return 1
        data = trace.read_bytes()
        events = sum(1 for rec in data.split(b"\n") if rec[:2] in (b"c\t", b"l\t", b"r\t", b"x\t"))
    print(f"program      {FIXTURE.name} (LIMIT={args.limit}), g++ {' '.join(flags())}, best of {args.repeat}")
    print(f"untraced     cpu {plain_cpu * 1e3:9.2f} ms   wall {plain_wall * 1e3:9.2f} ms")
    print(f"traced       cpu {traced_cpu * 1e3:9.2f} ms   wall {traced_wall * 1e3:9.2f} ms")
    print(f"events       {events:10d}   trace {len(data) / 1e6:.1f} MB, {len(data) / max(events, 1):.0f} bytes/event")
    print(f"per event    cpu {(traced_cpu - plain_cpu) / max(events, 1) * 1e9:7.1f} ns   "
          f"wall {(traced_wall - plain_wall) / max(events, 1) * 1e9:7.1f} ns   ((traced - untraced) / events)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
