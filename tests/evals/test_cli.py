"""End to end: `trace eval traceeval build|predict|score` and `trace gen codetrace` on real dumps.

Two dumps: one of real Python runs traced with sys.settrace (always available), and one
written by `trace run --out` with the instrumenting tracer, for every sample program in a
language whose tracing works on this machine (skipped, with the reason, when none does).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from te_programs import JAVASCRIPT, PYTHON, C
from typer.testing import CliRunner

from codealchemy.evals.traceeval.metrics import METRICS
from codealchemy.tracer import records
from codealchemy.tracer.cli import build_app


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def trace(*args: str | Path, cwd: Path, subprocess_: bool = False) -> Result:
    """Run `trace ARGS` in CWD: in this process (fast), or as a real process when asked."""
    if subprocess_:
        r = subprocess.run([sys.executable, "-m", "codealchemy.tracer.cli", *map(str, args)], cwd=cwd,
                           capture_output=True, text=True, timeout=300)
        return Result(r.returncode, r.stdout, r.stderr)
    old = os.getcwd()
    os.chdir(cwd)
    try:
        r = CliRunner().invoke(build_app(), [str(a) for a in args])
    finally:
        os.chdir(old)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return Result(r.exit_code, r.stdout, r.stderr)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def real_dump(tmp_path_factory) -> Path:
    """`trace run --out DUMP FILE` on each sample program; skips when no language traces here."""
    root = tmp_path_factory.mktemp("real")
    failures = []
    for name, code in {**JAVASCRIPT, **C, **{k: PYTHON[k] for k in ("fib.py", "words.py", "squares.py")}}.items():
        (root / name).write_text(code, encoding="utf-8")
        trace("run", "--out", "dump", name, cwd=root, subprocess_=True)
    try:
        index = records.dump_index(root / "dump")
    except records.RecordError:
        index = []
    ok = [e for e in index if e["status"] == "ok"]
    failures = sorted({f"{e['language']}: {e['status']} ({(e.get('reason') or '')[:80]})"
                       for e in index if e["status"] != "ok"})
    if not ok:
        pytest.skip("no language traces on this machine yet: " + "; ".join(failures or ["no dump written"]))
    return root / "dump"


def _round_trip(dump: Path, work: Path) -> dict:
    """build -> score (reference, empty, half) -> predict (file generator) -> score; returns the tasks."""
    r = trace("eval", "traceeval", "build", dump, "--out", "tasks.jsonl", "--per-language", "10", "--seed", "3",
              cwd=work, subprocess_=True)
    assert r.returncode == 0, r.stderr
    tasks = _jsonl(work / "tasks.jsonl")
    assert tasks and "wrote" in r.stderr
    for t in tasks:
        assert {"id", "language", "prompt", "reference", "source"} <= set(t)

    _write_jsonl(work / "ref.jsonl", [{"id": t["id"], "prediction": t["reference"]} for t in tasks])
    _write_jsonl(work / "empty.jsonl", [{"id": t["id"], "prediction": ""} for t in tasks])
    _write_jsonl(work / "half.jsonl", [{"id": t["id"], "prediction": "\n".join(
        t["reference"].split("\n")[: max(len(t["reference"].split("\n")) // 2, 1)])} for t in tasks])
    scores = {}
    for name in ("ref", "empty", "half"):
        r = trace("eval", "traceeval", "score", "tasks.jsonl", f"{name}.jsonl", "--json", cwd=work)
        assert r.returncode == 0, r.stderr
        scores[name] = json.loads(r.stdout)
    assert set(scores["ref"]) == {*METRICS, "n", "intervals", "by_language", "unavailable"}
    assert scores["ref"]["n"] == len(tasks) and scores["ref"]["unavailable"] == {}
    assert set(scores["ref"]["by_language"]) == {t["language"] for t in tasks}
    for metric in METRICS:
        assert scores["ref"][metric] == 1.0 and scores["empty"][metric] == 0.0
        assert 0.0 <= scores["half"][metric] <= 1.0
        for lang in scores["ref"]["by_language"].values():
            assert lang[metric] == 1.0
    assert scores["half"]["rouge2"] > 0.0

    # a missing or an extra id: one clear line naming it, non-zero exit
    _write_jsonl(work / "missing.jsonl", [{"id": t["id"], "prediction": ""} for t in tasks[1:]])
    r = trace("eval", "traceeval", "score", "tasks.jsonl", "missing.jsonl", "--json", cwd=work, subprocess_=True)
    assert r.returncode != 0 and r.stdout == ""
    assert r.stderr.strip().count("\n") == 0 and tasks[0]["id"] in r.stderr
    _write_jsonl(work / "extra.jsonl", [*(_jsonl(work / "ref.jsonl")), {"id": "no-such-task", "prediction": ""}])
    r = trace("eval", "traceeval", "score", "tasks.jsonl", "extra.jsonl", cwd=work)
    assert r.returncode != 0 and r.stderr.strip().count("\n") == 0 and "no-such-task" in r.stderr

    # predict through the generator plugin interface: the file generator replays completions
    _write_jsonl(work / "completions.jsonl", [{"prompt": t["prompt"], "completion": t["reference"]} for t in tasks])
    r = trace("eval", "traceeval", "predict", "tasks.jsonl", "--generator", "file", "--option",
              "path=completions.jsonl", "--out", "pred.jsonl", cwd=work)
    assert r.returncode == 0, r.stderr
    assert [p["id"] for p in _jsonl(work / "pred.jsonl")] == [t["id"] for t in tasks]
    r = trace("eval", "traceeval", "score", "tasks.jsonl", "pred.jsonl", "--json", cwd=work)
    assert json.loads(r.stdout)["exact_match"] == 1.0
    r = trace("eval", "traceeval", "score", "tasks.jsonl", "pred.jsonl", cwd=work)
    assert r.returncode == 0 and "step accuracy" in r.stdout

    # rows
    r = trace("gen", "codetrace", dump, "--out", "rows.jsonl", "--rows-per-trace", "2", cwd=work)
    assert r.returncode == 0, r.stderr
    rows = _jsonl(work / "rows.jsonl")
    assert rows
    for row in rows:
        assert row["text"] == f"User:\n{row['prompt']}\n\nAssistant:\n{row['response']}"
        assert {"source_sha256", "language", "trace_id", "strategy", "prompt_version"} <= set(row)
    if importlib.util.find_spec("pyarrow") is not None:
        r = trace("gen", "codetrace", dump, "--out", "rows.parquet", "--rows-per-trace", "2", cwd=work)
        assert r.returncode == 0, r.stderr
        import pyarrow.parquet as pq

        assert pq.read_table(work / "rows.parquet").to_pylist() == rows
    return {"tasks": tasks, "rows": rows}


def test_end_to_end_on_a_dump_of_real_python_runs(py_dump, tmp_path):
    out = _round_trip(py_dump, tmp_path)
    assert {t["language"] for t in out["tasks"]} == {"python"}


def test_end_to_end_on_a_dump_written_by_trace_run(real_dump, tmp_path):
    out = _round_trip(real_dump, tmp_path)
    languages = {e["language"] for e in records.dump_index(real_dump) if e["status"] == "ok"}
    assert {t["language"] for t in out["tasks"]} <= languages


def test_bad_input_is_one_clear_line(tmp_path):
    r = trace("eval", "traceeval", "build", tmp_path / "nowhere", "--out", "t.jsonl", cwd=tmp_path)
    assert r.returncode == 2 and "not a dump" in r.stderr and r.stderr.strip().count("\n") == 0
    (tmp_path / "tasks.jsonl").write_text('{"id": "a", "reference": "L1"}\nnot json\n', encoding="utf-8")
    r = trace("eval", "traceeval", "score", "tasks.jsonl", "tasks.jsonl", cwd=tmp_path)
    assert r.returncode == 2 and "tasks.jsonl:2" in r.stderr
    r = trace("eval", "traceeval", "predict", "tasks.jsonl", "--generator", "nope", "--out", "p.jsonl", cwd=tmp_path)
    assert r.returncode == 2 and "tasks.jsonl:2" in r.stderr   # the tasks are read before any model starts
    (tmp_path / "good.jsonl").write_text('{"id": "a", "reference": "L1", "prompt": "p"}\n', encoding="utf-8")
    r = trace("eval", "traceeval", "predict", "good.jsonl", "--generator", "nope", "--out", "p.jsonl", cwd=tmp_path)
    assert r.returncode == 2 and "unknown generator 'nope'" in r.stderr
    r = trace("gen", "codetrace", tmp_path / "nowhere", "--out", "rows.jsonl", cwd=tmp_path)
    assert r.returncode == 2 and "not a dump" in r.stderr
