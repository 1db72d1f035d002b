"""Python tracing overhead: untraced vs rewritten (CodeAlchemy probes) vs a settrace recorder.

One CPU-bound gcd loop (about 320k line events), three runs side by side with the same
interpreter the runtime uses (/usr/bin/python3), outside the sandbox so that only the tracing
differs:

- untraced: the program as it is;
- traced: the rewritten program, writing its records to a file through CODEALCHEMY_TRACE_FD;
- settrace: the reference recorder (instrumenters/python/tests/oracle.py), which records the
  same information (every line with the visible variables, calls, returns, exceptions).

Each is run --repeat times; the best CPU time (user+sys of the child) and the best wall time
count. CPU time is the figure to compare on a busy machine.

    python benchmarks/python_overhead.py [--n 160] [--repeat 3]
    python benchmarks/python_overhead.py --prepare DIR   # write the three programs to DIR
    python benchmarks/python_overhead.py --bundle DIR    # measure them (stdlib only)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = "/usr/bin/python3"
ORACLE = Path(__file__).resolve().parent.parent / "instrumenters" / "python" / "tests" / "oracle.py"

PROGRAM = '''\
def gcd(a, b):
    while b:
        a, b = b, a % b
    return a


total = 0
for i in range(1, {n}):
    for j in range(1, {n}):
        total += gcd(i, j)
print(total)
'''


def prepare(folder: Path, n: int) -> None:
    """plain/main.py, traced/main.py (+ prelude) and oracle.py in `folder`."""
    from codealchemy.tracer import plugins
    from codealchemy.tracer.instrument import Instrumented, instrument

    source = PROGRAM.format(n=n)
    inst = instrument(source, plugins.languages().get("python"))
    if not isinstance(inst, Instrumented):
        raise SystemExit(f"cannot instrument: {inst}")
    (folder / "plain").mkdir(parents=True, exist_ok=True)
    (folder / "plain" / "main.py").write_text(source, encoding="utf-8")
    (folder / "traced").mkdir(exist_ok=True)
    (folder / "traced" / "main.py").write_text(inst.code, encoding="utf-8")
    for name, data in inst.files.items():
        (folder / "traced" / name).write_bytes(data)
    shutil.copy(ORACLE, folder / "oracle.py")


def timed(argv, cwd, env, pass_fds=()):
    """(wall seconds, CPU seconds) of one run of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, pass_fds=pass_fds)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best(runs):
    return min(w for w, _ in runs), min(c for _, c in runs)


def measure(folder: Path, repeat: int, python: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory(prefix="ca-bench-") as tmp:
        trace, oracle_out = Path(tmp) / "trace.txt", Path(tmp) / "oracle.txt"
        untraced, traced, settrace = [], [], []
        for _ in range(repeat):  # interleaved, so that a busy moment hits all three alike
            untraced.append(timed([python, "-X", "utf8", "main.py"], folder / "plain", env))
            fd = os.open(trace, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            tenv = {**env, "CODEALCHEMY_TRACE_FD": str(fd), "CODEALCHEMY_MAX_EVENTS": str(10**8),
                    "CODEALCHEMY_MAX_VALUE": "200"}
            traced.append(timed([python, "-X", "utf8", "main.py"], folder / "traced", tenv, (fd,)))
            os.close(fd)
            settrace.append(timed([python, "-X", "utf8", str(folder / "oracle.py"), "main.py", str(oracle_out)],
                                  folder / "plain", env))
        records = trace.read_bytes().split(b"\n")
        lines = sum(1 for r in records if r.startswith(b"l\t"))
        events = sum(1 for r in records if r[:2] in (b"l\t", b"c\t", b"r\t", b"x\t"))
        oracle_lines = sum(1 for r in oracle_out.read_bytes().split(b"\n") if r.startswith(b"l\t"))
    untraced, traced, settrace = best(untraced), best(traced), best(settrace)
    version = subprocess.run([python, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"gcd loop: {lines} line events ({events} events in all; settrace saw {oracle_lines} lines)")
    print(f"interpreter: {python} ({version}), best of {repeat}; CPU = user+sys of the process")
    print(f"{'':<22}{'CPU s':>9}{'wall s':>9}{'CPU vs untraced':>18}")
    for label, (wall, cpu) in (("untraced", untraced), ("traced (rewritten)", traced),
                               ("settrace recorder", settrace)):
        print(f"{label:<22}{cpu:9.3f}{wall:9.3f}{cpu / untraced[1]:17.1f}x")
    print(f"settrace recorder / traced: {settrace[1] / traced[1]:.1f}x CPU, {settrace[0] / traced[0]:.1f}x wall "
          "(how much faster the rewritten program is)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=160, help="loop bound (160: about 320k line events)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--python", default=PYTHON)
    ap.add_argument("--prepare", type=Path, help="only write the programs to this folder")
    ap.add_argument("--bundle", type=Path, help="measure the programs already in this folder")
    args = ap.parse_args()
    if args.prepare:
        prepare(args.prepare, args.n)
        return 0
    if args.bundle:
        measure(args.bundle.resolve(), args.repeat, args.python)
        return 0
    with tempfile.TemporaryDirectory(prefix="ca-bench-") as tmp:
        prepare(Path(tmp), args.n)
        measure(Path(tmp), args.repeat, args.python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
