"""Python tracing overhead: untraced vs rewritten (CodeAlchemy probes) vs a settrace recorder.

One CPU-bound gcd loop (about 300k line events), three runs side by side with the same
interpreter the runtime uses (/usr/bin/python3), outside the sandbox so that only the tracing
differs:

- untraced: the program as it is;
- traced: the rewritten program, writing its records to a file through CODEALCHEMY_TRACE_FD;
- settrace: the reference recorder (instrumenters/python/tests/oracle.py), which records the
  same information (every line with the visible variables, calls, returns, exceptions).

Each is run --repeat times; the best wall time counts. Usage:
    python benchmarks/python_overhead.py [--n 160] [--repeat 3]
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


def timed(argv, cwd, env, pass_fds=()):
    """(wall seconds, CPU seconds) of one run of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, pass_fds=pass_fds)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best(argv, cwd, repeat, env=None):
    runs = [timed(argv, cwd, env) for _ in range(repeat)]
    return min(w for w, _ in runs), min(c for _, c in runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=160, help="loop bound (160: about 320k line events)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    source = PROGRAM.format(n=args.n)
    inst = instrument(source, plugins.languages().get("python"))
    if not isinstance(inst, Instrumented):
        print(f"cannot instrument: {inst}", file=sys.stderr)
        return 1
    base_env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory(prefix="ca-bench-") as tmp:
        work = Path(tmp)
        (work / "plain").mkdir()
        (work / "plain" / "main.py").write_text(source, encoding="utf-8")
        (work / "traced").mkdir()
        (work / "traced" / "main.py").write_text(inst.code, encoding="utf-8")
        for name, data in inst.files.items():
            (work / "traced" / name).write_bytes(data)
        trace = work / "trace.txt"
        untraced = best([PYTHON, "-X", "utf8", "main.py"], work / "plain", args.repeat, base_env)
        env = {**base_env, "CODEALCHEMY_TRACE_FD": "", "CODEALCHEMY_MAX_EVENTS": str(10**8),
               "CODEALCHEMY_MAX_VALUE": "200"}
        # the fd number is only known once opened: open it first, then name it
        fd = os.open(trace, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.close(fd)
        runs = []
        for _ in range(args.repeat):
            fd = os.open(trace, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            env["CODEALCHEMY_TRACE_FD"] = str(fd)
            runs.append(timed([PYTHON, "-X", "utf8", "main.py"], work / "traced", env, (fd,)))
            os.close(fd)
        traced = min(w for w, _ in runs), min(c for _, c in runs)
        records = trace.read_bytes().split(b"\n")
        lines = sum(1 for r in records if r.startswith(b"l\t"))
        events = sum(1 for r in records if r[:2] in (b"l\t", b"c\t", b"r\t", b"x\t"))
        settrace = best([PYTHON, "-X", "utf8", str(ORACLE), "main.py", str(work / "oracle.txt")],
                        work / "plain", args.repeat, base_env)
        oracle_lines = sum(1 for r in (work / "oracle.txt").read_bytes().split(b"\n") if r.startswith(b"l\t"))
    print(f"gcd loop, n={args.n}: {lines} line events ({events} events in all; settrace saw {oracle_lines} lines)")
    print(f"interpreter: {PYTHON}, best of {args.repeat}; CPU time of the process (user+sys), wall beside it")
    print(f"{'':<22}{'CPU s':>9}{'wall s':>9}{'CPU vs untraced':>18}")
    for label, (wall, cpu) in (("untraced", untraced), ("traced (rewritten)", traced), ("settrace recorder", settrace)):
        print(f"{label:<22}{cpu:9.3f}{wall:9.3f}{cpu / untraced[1]:17.1f}x")
    print(f"settrace recorder / traced: {settrace[1] / traced[1]:.1f}x CPU, {settrace[0] / traced[0]:.1f}x wall "
          "(how much faster the rewritten program is)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
