"""What a native probe costs (C, C++): one CPU-bound program, untraced and traced, side by side.

Compiles the language's CPU-bound fixture (C: instrumenters/c/tests/fixtures/hot_loop.c, a sieve
and Collatz walks; C++: instrumenters/cpp/tests/fixtures/bench_loop.cpp, Collatz walks and digit
sums; both made bigger with -DLIMIT) twice with the runtime's own compile command from
runtime.toml: as written, and as instrumented. Both run outside the sandbox (this measures the
probes, not the sandbox's cost), the traced one with the trace channel on a file, as the backends
do. Prints, from one invocation, the best-of-N CPU times (user + system of the child: steadier
than wall time on a shared machine; wall times too), the number of events and the extra
nanoseconds per event: (traced - untraced) / events.

    python benchmarks/native_event_cost.py --language c [--limit 3000] [--repeat 5]
    python benchmarks/native_event_cost.py --language cpp [--limit 20000] [--repeat 5]
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
from codealchemy.tracer.tracing import argv

#: language -> (fixture under instrumenters/<id>/tests/fixtures, default LIMIT)
FIXTURES = {"c": ("hot_loop.c", 3000), "cpp": ("bench_loop.cpp", 20000)}


def build(lang, work: Path, name: str, source: str, files: dict[str, bytes], limit: int) -> Path:
    """Compile with runtime.toml's command, -DLIMIT appended, into work/name/."""
    folder = work / name
    folder.mkdir()
    for fname, data in files.items():
        (folder / fname).write_bytes(data)
    (folder / lang.runtime.source).write_text(source, encoding="utf-8")
    command = argv(lang.runtime.compile, lang.runtime.source)
    subprocess.run([*command, f"-DLIMIT={limit}"], check=True, cwd=folder)   # (the C++ command passes on what follows)
    return folder / "main"


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
        out = subprocess.run([str(exe)], cwd=exe.parent, env=env, capture_output=True, check=True, pass_fds=fds).stdout
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        if fh is not None:
            fh.close()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, out


def main(args: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--language", choices=sorted(FIXTURES), default="c")
    ap.add_argument("--limit", type=int, help="LIMIT of the fixture (work grows with it)")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each; the best is kept")
    args = ap.parse_args(args)
    lang = plugins.languages().get(args.language)
    name, default_limit = FIXTURES[lang.id]
    fixture = lang.instrumenter_dir / "tests" / "fixtures" / name
    limit = args.limit or default_limit

    source = fixture.read_text(encoding="utf-8")
    inst = instrument(source, lang)
    if not isinstance(inst, Instrumented):
        print(f"cannot instrument {fixture.name}: {inst}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="native-event-cost-") as tmp:
        work = Path(tmp)
        plain = build(lang, work, "plain", source, {}, limit)
        traced = build(lang, work, "traced", inst.code, inst.files, limit)
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
    command = " ".join(argv(lang.runtime.compile, lang.runtime.source))
    print(f"program      {fixture.name} (LIMIT={limit}), {command}, best of {args.repeat}")
    print(f"untraced     cpu {plain_cpu * 1e3:9.2f} ms   wall {plain_wall * 1e3:9.2f} ms")
    print(f"traced       cpu {traced_cpu * 1e3:9.2f} ms   wall {traced_wall * 1e3:9.2f} ms")
    print(f"events       {events:10d}   trace {len(data) / 1e6:.1f} MB, {len(data) / max(events, 1):.0f} bytes/event")
    print(f"per event    cpu {(traced_cpu - plain_cpu) / max(events, 1) * 1e9:7.1f} ns   "
          f"wall {(traced_wall - plain_wall) / max(events, 1) * 1e9:7.1f} ns   ((traced - untraced) / events)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
