"""How long reading a table corpus takes, per shard, the way a worker reads it.

Builds a Parquet file (row groups of --group rows) and a .jsonl.gz file of --rows small code
rows, cuts both into shards of --shard rows as `trace batch` does, and reads every shard's
inputs in order in one process (one worker's share). For comparison it times, on --sample
shards spread over the file, the whole Parquet file read per shard (what the corpus code did
before) and a gzip stream reopened and skipped to the shard's first row per shard (the naive
way; .jsonl.gz was not a corpus before).

    python benchmarks/batch_corpus_read.py [--rows 200000] [--group 20000] [--shard 64]
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from codealchemy.tracer import corpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--group", type=int, default=20_000, help="Parquet row group size")
    ap.add_argument("--shard", type=int, default=64)
    ap.add_argument("--sample", type=int, default=20, help="shards timed with the old way of reading")
    args = ap.parse_args()
    rows = [{"content": f"def f{i}(x):\n    return x * {i}\n\nprint(f{i}(2))\n", "language": "python",
             "path": f"src/m{i}.py", "blob_id": f"{i:040x}", "repo_name": f"org/repo{i % 97}", "license": "mit"}
            for i in range(args.rows)]
    with tempfile.TemporaryDirectory() as tmp:
        pq.write_table(pa.Table.from_pylist(rows), Path(tmp) / "t.parquet", row_group_size=args.group)
        with gzip.open(Path(tmp) / "t.jsonl.gz", "wt") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)
        print(f"{args.rows} rows, shards of {args.shard}, Parquet row groups of {args.group}")
        print(f"{'format':10} {'shards':>7} {'read all (s)':>13} {'ms/shard':>9} {'old ms/shard':>13}")
        for name, old in (("t.parquet", _old_parquet), ("t.jsonl.gz", _old_gzip)):
            plan = list(corpus.shards([Path(tmp) / name], args.shard))
            t0 = time.perf_counter()
            n = sum(1 for s in plan for _ in s.items())
            took = time.perf_counter() - t0
            assert n == args.rows
            sample = plan[:: max(len(plan) // args.sample, 1)][: args.sample]
            t0 = time.perf_counter()
            for s in sample:
                old(s)
            before = (time.perf_counter() - t0) / len(sample)
            print(f"{name.split('.', 1)[1]:10} {len(plan):>7} {took:>13.2f} {1000 * took / len(plan):>9.2f} "
                  f"{1000 * before:>13.1f}")


def _old_parquet(s: corpus.Shard) -> list:
    return pq.read_table(s.file).slice(s.start, s.stop - s.start).to_pylist()


def _old_gzip(s: corpus.Shard) -> list:
    with gzip.open(s.file, "rb") as fh:
        for _ in range(s.start):
            fh.readline()
        return [fh.readline() for _ in range(s.count)]


if __name__ == "__main__":
    main()
