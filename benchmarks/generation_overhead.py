"""What `trace gen` costs beyond the strategy's own work: rows/s of the codetrace strategy (no
model, so nothing hides the pipeline) called in-process, against the same rows made by
`trace gen codetrace DUMP --out rows.FORMAT` (shards, markers, workers, row checks, gathering,
summary), measured in one run.

    python benchmarks/generation_overhead.py [--programs 1000] [--shard-size 16] [--workers 1]

The dump is `trace batch` of `--programs` distinct small Python programs. The start-up cost
(a `trace gen` of a one-trace dump) is measured apart and taken off, so the per-row figure is
the marginal cost of a row in the pipeline. Each figure is the best of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codealchemy.strategies.codetrace import CodeTrace
from codealchemy.tracer.testing import inputs

TRACE = [sys.executable, "-m", "codealchemy.tracer.cli"]
PROGRAM = """def gcd(a, b):
    while b:
        a, b = b, a % b
    return a


values = [{a}, {b}, {c}]
total = 0
for v in values:
    total += gcd(v, {d})
print(total)
"""


def dump(folder: Path, n: int) -> Path:
    corpus = folder / f"corpus{n}"
    corpus.mkdir()
    for i in range(n):
        (corpus / f"p{i}.py").write_text(PROGRAM.format(a=12 + i, b=18 + 2 * i, c=7 * i + 1, d=6 + i % 5))
    out = folder / f"dump{n}"
    subprocess.run([*TRACE, "batch", str(corpus), "--out", str(out), "--workers", "2"], check=True,
                   capture_output=True)
    return out


def gen(source: Path, out: Path, args: list[str]) -> float:
    t0 = time.monotonic()
    subprocess.run([*TRACE, "gen", "codetrace", str(source), "--out", str(out), *args], check=True,
                   capture_output=True)
    return time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--programs", type=int, default=1000)
    ap.add_argument("--shard-size", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs of each")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        big, one = dump(folder, a.programs), dump(folder, 1)
        items = inputs(big, ("traces",))
        strategy = CodeTrace()
        strategy.load(None, None)
        direct = float("inf")
        for _ in range(a.repeat):
            t0 = time.monotonic()
            direct_rows = list(strategy.process(items))
            direct = min(direct, time.monotonic() - t0)
        args = ["--shard-size", str(a.shard_size), "--workers", str(a.workers)]
        figures = {"programs": a.programs, "rows": len(direct_rows), "direct_ms_per_row":
                   round(1000 * direct / len(direct_rows), 3)}
        for fmt in ("jsonl", "parquet"):
            # a fresh --out each time: the same one would resume, with nothing left to do
            start = min(gen(one, folder / f"one{i}.{fmt}", args) for i in range(a.repeat))
            whole = min(gen(big, folder / f"rows{i}.{fmt}", args) for i in range(a.repeat))
            marginal = max(whole - start, 0.0)
            figures[fmt] = {"startup_s": round(start, 2), "wall_s": round(whole, 2),
                            "ms_per_row": round(1000 * marginal / len(direct_rows), 3),
                            "pipeline_over_direct": round(marginal / direct, 2) if direct else None}
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
