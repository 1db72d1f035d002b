"""Dedup (exact and MinHash near duplicates) and decontamination of rows against benchmark
programs: what is removed says why, nothing else is touched."""

from __future__ import annotations

import json
import subprocess
import sys

from codealchemy.tracer.dedup import MinHasher, decontaminate, dedup, load_references, shingles
from codealchemy.tracer.rows import turn_text

PROGRAM = "\n".join(f"def f{i}(x):\n    return x * {i} + {i * i}  # step {i}" for i in range(30))
OTHER = "\n".join(f"puts 'line {i}' if rand > 0.{i}" for i in range(40))
TRACE = [sys.executable, "-m", "codealchemy.tracer.cli"]


def _row(i: int, text: str, **extra) -> dict:
    return {"source_id": f"s{i}", "text": text, "source_sha256": f"sha{i}", **extra}


def test_minhash_estimates_jaccard():
    h = MinHasher(256)
    a, b = shingles(PROGRAM), shingles(PROGRAM.replace("step 3", "stage 3"))
    true = len(a & b) / len(a | b)
    assert abs(h.similarity(h.signature(a), h.signature(b)) - true) < 0.1
    assert h.similarity(h.signature(a), h.signature(shingles(OTHER))) < 0.1


def test_exact_and_near_duplicates_are_removed_with_why_and_the_first_kept():
    rows = [_row(0, turn_text("Explain:\n" + PROGRAM, "It adds.")),
            _row(1, turn_text("Explain:  \n" + PROGRAM, "It  adds.")),                 # whitespace only
            _row(2, turn_text("Explain:\n" + PROGRAM.replace("step 7", "stage 7"), "It adds.")),   # near
            _row(3, turn_text("Explain:\n" + OTHER, "It prints."))]
    got = dedup(rows)
    assert [r["source_id"] for r in got.kept] == ["s0", "s3"]
    why = {r["source_id"]: r["removed"] for r in got.removed}
    assert why["s1"].startswith("exact duplicate of row 0") and why["s2"].startswith("near duplicate of row 0")
    exact_only = dedup(rows, near=False)
    assert [r["source_id"] for r in exact_only.kept] == ["s0", "s2", "s3"]


def test_decontaminate_removes_rows_whose_seed_is_or_overlaps_a_benchmark_program(tmp_path):
    tasks = tmp_path / "traceeval.jsonl"
    tasks.write_text(json.dumps({"id": "python-1", "source": PROGRAM, "sha256": "other"}) + "\n"
                     + json.dumps({"id": "dev-1", "prompt": "Fix:\n```ruby\nputs 1\n```", "sha256": "sha9"}) + "\n")
    refs = load_references([tasks])
    rows = [_row(0, turn_text("Explain:\n```python\n" + PROGRAM.replace("step 2", "stage 2") + "\n```", "ok")),
            _row(9, turn_text("Explain:\n```ruby\nputs 2\n```", "ok")),                # same sha256 as dev-1
            _row(3, turn_text("Explain:\n```ruby\n" + OTHER + "\n```", "ok")),
            _row(4, "", raw=PROGRAM)]                                                  # codeenhance's seed column
    got = decontaminate(rows, refs)
    assert [r["source_id"] for r in got.kept] == ["s3"]
    why = {r["source_id"]: r["removed"] for r in got.removed}
    assert "python-1" in why["s0"] and "MinHash" in why["s0"] and "dev-1" in why["s9"] and "python-1" in why["s4"]


def test_the_command_writes_kept_and_removed_rows(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in [_row(0, "a b c d e f"), _row(1, "a b c d e f"),
                                                           _row(2, turn_text("```\n" + PROGRAM + "\n```", "x"))]))
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "p.py").write_text(PROGRAM)
    r = subprocess.run([*TRACE, "dedup", rows, "--out", tmp_path / "out.parquet",
                        "--decontaminate", tmp_path / "bench"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"rows": 3, "kept": 1, "contaminated": 1, "duplicates": 1}
    removed = [json.loads(x) for x in (tmp_path / "out.parquet.removed.jsonl").read_text().splitlines()]
    assert sorted(x["source_id"] for x in removed) == ["s1", "s2"]
    bad = subprocess.run([*TRACE, "dedup", rows, "--out", tmp_path / "o.jsonl",
                          "--decontaminate", tmp_path / "missing"], capture_output=True, text=True)
    assert bad.returncode == 2 and "no reference file" in bad.stderr
