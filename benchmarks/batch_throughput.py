"""Batch throughput on a mixed corpus built from every language's fixtures.

Prints files/s with 1 and 2 workers, the batch's overhead beyond the toolchains' own
compile and run time (from the footers' timings; starting a compile server, a warm javac or
mcs, is the toolchain's time too, and is shown apart), and dump bytes per event against the
same traces as JSON lines.

    python benchmarks/batch_throughput.py [--files 200] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codealchemy.tracer import plugins, records


def build_corpus(root: Path, n: int) -> dict[str, int]:
    pools = []
    for lang in plugins.languages():
        fixtures = sorted(p for p in (lang.instrumenter_dir / "tests" / "fixtures").glob("*")
                          if p.suffix in lang.extensions and not p.stem.startswith("bench"))
        pools.append([(lang.id, p) for p in fixtures])
    per: dict[str, int] = {}
    ordered = [x for x in itertools.chain.from_iterable(itertools.zip_longest(*pools)) if x]
    for i, (lang_id, src) in enumerate(itertools.islice(itertools.cycle(ordered), n)):
        folder = root / f"{i:04d}"
        folder.mkdir(parents=True)
        shutil.copy(src, folder / src.name)
        per[lang_id] = per.get(lang_id, 0) + 1
    return per


def run_batch(corpus: Path, out: Path, workers: int) -> float:
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "codealchemy.tracer.cli", "batch", str(corpus), "--out", str(out),
                    "--workers", str(workers), "--json"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        per = build_corpus(corpus, args.files)
        print(f"corpus: {args.files} files: " + ", ".join(f"{k} {v}" for k, v in sorted(per.items())))
        for workers in args.workers:
            out = Path(tmp) / f"dump-{workers}"
            wall = run_batch(corpus, out, workers)
            index = records.dump_index(out)
            footers = [records.dump_trace(out, e)[-1] for e in index]
            toolchain = sum(f.get("timings", {}).get(k, 0) for f in footers for k in ("compile", "run"))
            starts = sum(f.get("timings", {}).get("compile_server_start", 0) for f in footers)
            ok = sum(e["status"] == "ok" for e in index)
            busy = wall * workers
            print(f"workers={workers}: {len(index) / wall:.2f} files/s, wall {wall:.1f} s, ok {ok}/{len(index)}, "
                  f"toolchain time {toolchain:.1f} s + {starts:.1f} s starting compile servers, batch overhead "
                  f"{(busy - toolchain - starts) / busy:.1%} of worker time "
                  f"({(busy - toolchain) / busy:.1%} counting the server starts as overhead)")
        events = sum(e["events"] for e in index)
        dump_bytes = sum(p.stat().st_size for p in out.glob("*.msgpack"))
        json_bytes = 0
        for e in index:
            json_bytes += sum(len(line) + 1 for line in records.to_json_lines(records.dump_trace(out, e)))
        print(f"dump: {dump_bytes} bytes msgpack vs {json_bytes} bytes JSON lines for {events} events: "
              f"{dump_bytes / max(events, 1):.1f} vs {json_bytes / max(events, 1):.1f} bytes/event "
              f"(headers with the program text included)")


if __name__ == "__main__":
    main()
