"""What a Rust probe costs, and how often the repair loop fires.

1. Event cost: compiles instrumenters/rust/tests/fixtures/bench_loop.rs (a CPU-bound loop of
   three line events per iteration, each reading two integers; 30,000 iterations as written,
   `--iterations` of them here, 1,000,000 by default, so the traced run is long enough to time
   on a loaded machine) twice with the runtime's own rustc
   flags (runtimes/rust/runtime.toml: debug build), as written and as instrumented, runs both
   directly (no sandbox: its start-up is not the probes' cost; the traced one with the trace
   channel on a file, as the backends do) and prints best-of-N CPU and wall times side by side
   and (traced - untraced) / events. `--opt 1` also builds both at opt-level 1 for comparison.

2. Repairs (`--repairs`, on by default): traces every fixture and conformance program through
   the local sandbox and reports in how many the repair loop fired and what it dropped (line:
   variable, `*` for a whole line's probes) and why (rustc's messages, grouped).

    python benchmarks/rust_event_cost.py [--iterations N] [--repeat 5] [--opt 0] [--no-repairs]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from codealchemy.tracer import plugins
from codealchemy.tracer.instrument import Instrumented, instrument

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "instrumenters" / "rust" / "tests"
FIXTURE = TESTS / "fixtures" / "bench_loop.rs"


def rustc_flags(lang, opt: str | None) -> list[str]:
    """runtime.toml's compile argv without `-o main {source}` (opt-level replaced when asked)."""
    argv = list(lang.runtime.compile)
    i = argv.index("-o")
    del argv[i:i + 2]
    argv = [a for a in argv if a != "{source}"]
    if opt is not None:
        argv = [f"opt-level={opt}" if a.startswith("opt-level=") else a for a in argv]
    return argv


def toolchain_env(lang) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in lang.runtime.env.items():
        if key == "PATH":
            env["PATH"] = value + ":" + os.environ.get("PATH", "")
        elif not key.startswith("CODEALCHEMY_"):
            env[key] = value
    return env


def build(work: Path, name: str, code: str, files: dict[str, bytes], flags: list[str], env) -> Path:
    folder = work / name
    folder.mkdir()
    for fname, data in files.items():
        (folder / fname).write_bytes(data)
    (folder / "main.rs").write_text(code)
    subprocess.run([*flags, "-o", "main", "main.rs"], check=True, cwd=folder, env=env)
    return folder / "main"


def timed(exe: Path, trace: Path | None) -> tuple[float, float, bytes]:
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
        out = subprocess.run([str(exe)], cwd=exe.parent, env=env, capture_output=True, check=True,
                             pass_fds=fds).stdout
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        if fh is not None:
            fh.close()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, out


def event_cost(lang, inst: Instrumented, source: str, opt: str | None, repeat: int) -> int:
    flags = rustc_flags(lang, opt)
    env = toolchain_env(lang)
    with tempfile.TemporaryDirectory(prefix="rust-event-cost-") as tmp:
        work = Path(tmp)
        plain = build(work, "plain", source, {}, flags, env)
        traced = build(work, "traced", inst.code, inst.files, flags, env)
        trace = work / "trace"
        plain_cpu = plain_wall = traced_cpu = traced_wall = float("inf")
        for _ in range(repeat):
            cpu, wall, out_plain = timed(plain, None)
            plain_cpu, plain_wall = min(plain_cpu, cpu), min(plain_wall, wall)
            cpu, wall, out_traced = timed(traced, trace)
            traced_cpu, traced_wall = min(traced_cpu, cpu), min(traced_wall, wall)
        if out_plain != out_traced:
            print("stdout differs between the traced and untraced runs", file=sys.stderr)
            return 1
        data = trace.read_bytes()
    events = sum(1 for rec in data.split(b"\n") if rec[:2] in (b"c\t", b"l\t", b"r\t", b"x\t"))
    level = next(a for a in flags if a.startswith("opt-level="))
    loops = re.search(r"while i < (\d+)", source).group(1)
    print(f"program      {FIXTURE.name} ({loops} iterations), rustc {level}, best of {repeat}")
    print(f"untraced     cpu {plain_cpu * 1e3:9.2f} ms   wall {plain_wall * 1e3:9.2f} ms")
    print(f"traced       cpu {traced_cpu * 1e3:9.2f} ms   wall {traced_wall * 1e3:9.2f} ms")
    print(f"events       {events:10d}   trace {len(data) / 1e6:.2f} MB, {len(data) / max(events, 1):.0f} bytes/event")
    print(f"per event    cpu {(traced_cpu - plain_cpu) / max(events, 1) * 1e9:7.1f} ns   "
          f"wall {(traced_wall - plain_wall) / max(events, 1) * 1e9:7.1f} ns   ((traced - untraced) / events)")
    return 0


def repairs() -> None:
    from codealchemy.tracer.testing import Tracer

    tracer = Tracer()
    programs = sorted((TESTS / "fixtures").glob("*.rs")) + sorted((TESTS / "conformance").glob("*.rs"))
    programs = [p for p in programs if p != FIXTURE]
    fired, statuses = {}, Counter()
    t0 = time.perf_counter()
    for path in programs:
        traced = tracer.trace(path)
        statuses[traced.footer["status"]] += 1
        found = traced.header.get("repairs")
        if found:
            fired[f"{path.parent.name}/{path.name}"] = found
    print(f"\nrepair loop  fired in {len(fired)} of {len(programs)} programs "
          f"(statuses {dict(statuses)}; {time.perf_counter() - t0:.0f} s)")
    for name, found in fired.items():
        drops = ", ".join(f"{r['line']}:{r['variable'] or '*'}" for r in found)
        print(f"  {name:38} {len(found)} drop(s): {drops}")
    reasons = Counter(r["reason"].split("`")[0].strip() for found in fired.values() for r in found)
    print("  reasons: " + "; ".join(f"{n} x {reason}" for reason, n in reasons.most_common()))
    whole = sum(1 for found in fired.values() for r in found if r["variable"] is None)
    print(f"  drops of a whole line's probe (variable *): {whole}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs of each; the best is kept")
    ap.add_argument("--opt", default=None, help="also measure at this opt-level (e.g. 0)")
    ap.add_argument("--iterations", type=int, default=1_000_000, help="loop iterations (the fixture has 30000)")
    ap.add_argument("--no-repairs", dest="repairs", action="store_false", help="skip the repair statistics")
    args = ap.parse_args(argv)

    lang = plugins.languages().get("rust")
    source = FIXTURE.read_text(encoding="utf-8").replace("30000", str(args.iterations))
    inst = instrument(source, lang)
    if not isinstance(inst, Instrumented):
        print(f"cannot instrument {FIXTURE.name}: {inst}", file=sys.stderr)
        return 1
    rc = event_cost(lang, inst, source, None, args.repeat)
    if args.opt is not None and rc == 0:
        print()
        rc = event_cost(lang, inst, source, args.opt, args.repeat)
    if args.repairs:
        repairs()
    return rc


if __name__ == "__main__":
    sys.exit(main())
