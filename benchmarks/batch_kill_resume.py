"""A large mixed corpus, killed halfway with SIGKILL and resumed: every input exactly once?

The kill goes to the main process alone (as `kill -9 PID` or the OOM killer does, not to its
process group): its workers must die with it, or they would race the resume.

The corpus: every language's fixtures, cycled to --files inputs, plus the sandbox suite's
hostile programs (fork bombs, memory hogs, floods, network and secret probes) and bad inputs
(a syntax error, binary, non-UTF-8, empty, too large, unknown extension, a compile error).
Prints how far the first run got, the resumed run's time, missing and duplicated inputs (both
must be 0), and the resumed run's summary table as a user sees it.

    python benchmarks/batch_kill_resume.py [--files 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from batch_throughput import build_corpus

from codealchemy.tracer import records

HOSTILE = Path(__file__).resolve().parents[1] / "tests" / "sandbox" / "hostile"
TRACE = [sys.executable, "-m", "codealchemy.tracer.cli", "batch"]


def add_bad_inputs(folder: Path) -> None:
    folder.mkdir()
    (folder / "syntax.py").write_text("def f(:\n")
    (folder / "binary.c").write_bytes(bytes(range(256)) * 4)
    (folder / "latin1.py").write_bytes(b"print('caf\xe9')\n")
    (folder / "empty.rb").write_bytes(b"")
    (folder / "huge.js").write_text("let x = 0;\n" * 200_000)
    (folder / "data.csv").write_text("a,b\n1,2\n")
    (folder / "Wrong.java").write_text('public class Wrong { public static void main(String[] a) { int x = "no"; } }\n')


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=1000, help="fixture inputs (hostile and bad ones come on top)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus, dump = Path(tmp) / "corpus", Path(tmp) / "dump"
        build_corpus(corpus / "fixtures", args.files)
        shutil.copytree(HOSTILE, corpus / "hostile")
        add_bad_inputs(corpus / "bad")
        inputs = sorted(str(p) for p in corpus.rglob("*") if p.is_file())
        command = [*TRACE, str(corpus), "--out", str(dump), "--workers", str(args.workers), "--timeout", "3"]
        t0 = time.monotonic()
        first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
        while first.poll() is None and len(list(dump.glob("*.index.jsonl"))) * 2 < _shards(dump):
            time.sleep(0.1)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        killed_at = time.monotonic() - t0
        time.sleep(2)
        try:    # anything of the first run still alive is an orphan: count it, then end it
            os.killpg(first.pid, 0)
            orphans = "yes (killed now)"
            os.killpg(first.pid, signal.SIGKILL)
        except ProcessLookupError:
            orphans = "none"
        partial = len(records.dump_index(dump))
        t1 = time.monotonic()
        resumed = subprocess.run(command, capture_output=True, text=True)
        seconds = time.monotonic() - t1
        got = Counter(e["source"] for e in records.dump_index(dump))
        missing = [s for s in inputs if s not in got]
        twice = [s for s, n in got.items() if n > 1]
        print(f"corpus: {len(inputs)} inputs ({args.files} fixtures cycled, {len(list(HOSTILE.iterdir()))} "
              f"hostile, 7 bad), {args.workers} workers")
        print(f"first run: main pid SIGKILLed after {killed_at:.1f} s with {partial} inputs done; "
              f"processes left of it: {orphans}")
        print(f"resumed run: exit {resumed.returncode}, {seconds:.1f} s for the rest")
        print(f"missing {len(missing)}, duplicated {len(twice)}, traced {sum(got.values())} of {len(inputs)}")
        print(resumed.stdout)
        return 0 if resumed.returncode == 0 and not missing and not twice and orphans == "none" else 1


def _shards(dump: Path) -> int:
    """Shards of the run's plan (from .pipeline/run.json, once the run has written it)."""
    try:
        return json.loads((dump / ".pipeline" / "run.json").read_text())["plan"]["shards"]
    except (OSError, ValueError, KeyError):
        return 1 << 30


if __name__ == "__main__":
    sys.exit(main())
