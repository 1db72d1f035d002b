"""TraceEval build (selection, source text, determinism) and score (ids, by language)."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from te_programs import PYTHON
from te_pytrace import trace_python, write_dump

from codealchemy.evals.traceeval import BuildOptions, TraceEval, TraceEvalError
from codealchemy.evals.traceeval.build import SHINGLE, _bucket, jaccard, shingles
from codealchemy.evals.traceeval.metrics import METRICS
from codealchemy.tracer import plugins, records
from codealchemy.tracer.render_text import FORMAT_HELP, numbered, render


def _js_trace(name: str, n: int) -> list[dict]:
    """A JavaScript-shaped trace built from records (JavaScript tracing may not run here)."""
    code = f"let acc_{name} = 0;\nfor (let i = 0; i < {n}; i++) {{\n  acc_{name} += i;\n}}\nconsole.log(acc_{name});\n"
    head = records.header(language="javascript", source=f"{name}.js", sha256=hashlib.sha256(code.encode()).hexdigest(),
                          instrumenter={"id": "javascript"}, limits={}, tool="t", code=code)
    ev, acc = [{"kind": "line", "func": "<module>", "line": 1, "frame": 1, "depth": 0, "vars": {}}], 0
    for i in range(n):
        ev.append({"kind": "line", "func": "<module>", "line": 3, "frame": 1, "depth": 0, "vars": {"i": str(i)}})
        acc += i
    ev.append({"kind": "line", "func": "<module>", "line": 5, "frame": 1, "depth": 0,
               "vars": {f"acc_{name}": str(acc)}})
    ev.append({"kind": "output", "stream": "stdout", "text": f"{acc}\n"})
    return [head, *ev, records.footer(status="ok", exit_code=0, events=len(ev))]


def _distinct_programs(k: int) -> dict[str, str]:
    """k programs that are not near-duplicates of each other, of growing trace length."""
    out = {}
    for i in range(k):
        out[f"p{i}.py"] = (f"def step_{i}(value_{i}):\n    return value_{i} * {i + 2} - {i}\n\n\n"
                           f"acc_{i} = 0\nfor k_{i} in range({1 + i * 2}):\n    acc_{i} += step_{i}(k_{i})\n"
                           f"print('result_{i}', acc_{i})\n")
    return out


def test_tasks_come_from_ok_traces_within_bounds_with_the_rendered_reference(py_dump):
    result = TraceEval().build(py_dump, per_language=100, min_events=3, max_events=200)
    index = {e["sha256"]: e for e in records.dump_index(py_dump)}
    assert result.tasks
    for task in result.tasks:
        entry = index[task["sha256"]]
        assert entry["status"] == "ok" and 3 <= entry["events"] <= 200
        trace = records.dump_trace(py_dump, entry)
        assert task["reference"] == render(trace)
        assert task["source"] == trace[0]["code"]
        assert hashlib.sha256(task["source"].encode()).hexdigest() == task["sha256"]
        assert numbered(task["source"]) in task["prompt"] and FORMAT_HELP in task["prompt"]
        assert task["reference"] not in task["prompt"]
        assert {"id", "language", "prompt", "reference", "source", "trace_id", "prompt_version"} <= set(task)
    assert len({t["id"] for t in result.tasks}) == len(result.tasks)
    assert result.skipped["status runtime_error"] == 1
    assert result.skipped["more than 200 events"] == 1
    assert result.skipped["fewer than 3 events"] == 1


def test_near_duplicate_sources_are_removed(py_dump):
    tasks = TraceEval().build(py_dump, per_language=100).tasks
    sources = {t["source_path"] for t in tasks}
    assert len(sources & {"gcd.py", "gcd_more.py"}) == 1
    for a, b in itertools.combinations(tasks, 2):
        assert jaccard(shingles(a["source"]), shingles(b["source"])) < 0.7
    # with the threshold above 1, nothing is a near-duplicate
    assert len(TraceEval().build(py_dump, per_language=100, dedup_threshold=1.01).tasks) == len(tasks) + 1


def test_the_same_program_traced_twice_gives_one_task(tmp_path):
    dump = write_dump(tmp_path / "d", {"a.py": PYTHON["fib.py"]}, shard="s0")
    write_dump(dump, {"again/a.py": PYTHON["fib.py"]}, shard="s1")
    result = TraceEval().build(dump)
    assert len(result.tasks) == 1 and result.skipped["same source as another trace"] == 1


def test_per_language_quota_and_size_diversity(tmp_path):
    programs = _distinct_programs(24)
    dump = write_dump(tmp_path / "d", programs, shard="py")
    with records.DumpWriter(dump, shard="js") as w:
        for i in range(10):
            w.add(_js_trace(f"j{i}", 2 + i * 7))
    result = TraceEval().build(dump, per_language=6, max_events=300)
    by_lang = {lang: [t for t in result.tasks if t["language"] == lang] for lang in ("python", "javascript")}
    assert len(by_lang["python"]) == 6 and len(by_lang["javascript"]) == 6
    eligible = {_bucket(e["events"]) for e in records.dump_index(dump) if e["language"] == "python"}
    chosen = {_bucket(t["events"]) for t in by_lang["python"]}
    assert len(chosen) == min(6, len(eligible))  # one per size bucket before a second from any


def test_build_is_deterministic_for_a_seed_and_the_seed_matters(tmp_path):
    dump = write_dump(tmp_path / "d", _distinct_programs(30))
    opts = {"per_language": 5, "max_events": 400}
    first = TraceEval().build(dump, seed=1, **opts).tasks
    assert first == TraceEval().build(dump, seed=1, **opts).tasks
    picks = {tuple(t["id"] for t in TraceEval().build(dump, seed=s, **opts).tasks) for s in range(6)}
    assert len(picks) > 1


def test_traces_without_trustworthy_program_text_are_left_out_with_a_reason(tmp_path):
    code = PYTHON["squares.py"]
    good = trace_python(code, source="squares.py")
    no_code = [{k: v for k, v in good[0].items() if k != "code"} | {"source": str(tmp_path / "missing.py")},
               *good[1:]]
    (tmp_path / "changed.py").write_text(code + "# edited\n", encoding="utf-8")
    changed = [no_code[0] | {"source": str(tmp_path / "changed.py"), "sha256": "1" * 64}, *good[1:]]
    cut = [*good[:-1], good[-1] | {"truncated": True, "truncation": "max_events"}]
    cut[0] = cut[0] | {"sha256": "2" * 64}
    with records.DumpWriter(tmp_path / "d") as w:
        for t in (no_code, changed, cut):
            w.add(t)
    result = TraceEval().build(tmp_path / "d")
    assert result.tasks == []
    reasons = "\n".join(result.skipped)
    assert "cannot be read" in reasons and "cut by the tracer" in reasons
    assert "no program text" in reasons


def test_program_text_is_read_from_the_source_path_when_the_header_has_none(tmp_path):
    code = PYTHON["squares.py"]
    (tmp_path / "squares.py").write_text(code, encoding="utf-8")
    trace = trace_python(code, source="squares.py")
    trace[0] = {k: v for k, v in trace[0].items() if k != "code"}
    with records.DumpWriter(tmp_path / "d") as w:
        w.add(trace)
    tasks = TraceEval().build(tmp_path / "d").tasks  # the relative path resolves beside the dump
    assert [t["source"] for t in tasks] == [code]


def test_score_by_language_and_fractions(py_dump):
    bench = TraceEval()
    tasks = bench.build(py_dump, per_language=100).tasks
    tasks = tasks + [dict(tasks[0], id="js-1", language="javascript")]
    preds = [{"id": t["id"], "prediction": t["reference"] if i % 2 == 0 else ""} for i, t in enumerate(tasks)]
    per_task: list = []
    result = bench.score(tasks, preds, per_task=per_task)
    assert set(result) == {*METRICS, "n", "intervals", "by_language", "unavailable"}
    assert result["n"] == len(tasks) and set(result["by_language"]) == {"python", "javascript"}
    assert sum(s["n"] for s in result["by_language"].values()) == len(tasks)
    right = sum(1 for i in range(len(tasks)) if i % 2 == 0)
    for metric in METRICS:
        assert result[metric] == pytest.approx(right / len(tasks))
        assert result[metric] == pytest.approx(sum(p[metric] for p in per_task) / len(per_task))
        low, high = result["intervals"][metric]
        assert 0.0 <= low < result[metric] < high <= 1.0  # half right, half wrong: a real spread
        js = 1.0 if (len(tasks) - 1) % 2 == 0 else 0.0  # the one javascript task, last: right or empty
        assert result["by_language"]["javascript"]["intervals"][metric] == [js, js]


def test_a_missing_extra_or_repeated_id_is_an_error_that_names_it(py_dump):
    bench = TraceEval()
    tasks = bench.build(py_dump).tasks
    preds = [{"id": t["id"], "prediction": ""} for t in tasks]
    with pytest.raises(TraceEvalError, match=f"no prediction for task id '{tasks[-1]['id']}'"):
        bench.score(tasks, preds[:-1])
    with pytest.raises(TraceEvalError, match="prediction for unknown task id 'nope'"):
        bench.score(tasks, [*preds, {"id": "nope", "prediction": ""}])
    with pytest.raises(TraceEvalError, match="appears twice"):
        bench.score(tasks, [*preds, preds[0]])


def test_traceeval_is_registered_through_the_benchmark_hook():
    assert plugins.benchmarks()["traceeval"] is TraceEval
    assert isinstance(TraceEval().options, BuildOptions)
    assert SHINGLE == 5


def test_bootstrap_intervals_share_their_resamples_and_are_reproducible():
    from codealchemy.evals.stats import bootstrap_interval, bootstrap_intervals

    a, b = [1.0, 0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0, 0.0]
    got = bootstrap_intervals({"a": a, "b": b})
    assert got == bootstrap_intervals({"a": a, "b": b}) and got["a"] == bootstrap_interval(a)
    # b is 1 - a task by task: on the same resamples its interval is a's mirrored
    assert got["b"] == pytest.approx((1 - got["a"][1], 1 - got["a"][0]))
    with pytest.raises(ValueError, match="different lengths"):
        bootstrap_intervals({"a": a, "b": b[:2]})
