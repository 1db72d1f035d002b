"""CodeTrace rows: the paper's text form, provenance, right answers, seeded template choice, Parquet."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re

import pytest

from codealchemy.strategies.codetrace import PROMPTS, TEMPLATES, CodeTrace, ordinal, row_text
from codealchemy.tracer import plugins, records
from codealchemy.tracer.render_text import TextOptions, render, stdout_text


def _traces(dump):
    return {f"{e['shard']}:{e['offset']}": records.dump_trace(dump, e) for e in records.dump_index(dump)}


def _all_rows(dump, **options):
    return list(CodeTrace(rows_per_trace=len(TEMPLATES), **options).rows(dump))


def test_rows_have_the_paper_form_and_their_provenance(py_dump):
    rows = _all_rows(py_dump)
    traces = _traces(py_dump)
    assert rows
    for row in rows:
        assert row["text"] == row_text(row["prompt"], row["response"])
        assert row["text"].startswith("User:\n") and "\n\nAssistant:\n" in row["text"]
        head = traces[row["trace_id"]][0]
        assert row["source_sha256"] == head["sha256"] and row["language"] == head["language"]
        assert row["strategy"] == "codetrace" and row["source_path"] == head["source"]
        template = (PROMPTS / f"{row['template']}.txt").read_text(encoding="utf-8")
        digest = hashlib.sha256(template.encode()).hexdigest()[:8]
        assert row["prompt_version"] == f"codetrace/{row['template']}@{digest}"
    assert {r["template"] for r in rows} == set(TEMPLATES)


def test_every_answer_is_what_the_trace_says(py_dump):
    traces = _traces(py_dump)
    for row in _all_rows(py_dump):
        trace, prompt, response = traces[row["trace_id"]], row["prompt"], row["response"]
        if row["template"] == "trace":
            assert response == render(trace, TextOptions(max_steps=200, max_value=200))
        elif row["template"] == "output":
            assert response == stdout_text(trace)
        elif row["template"] == "variable":
            name, line, nth = re.search(r"value of `(.+?)` just before line (\d+) runs for the (\w+) time",
                                        prompt).groups()
            arrivals = [r for r in trace if r["kind"] == "line" and r["line"] == int(line)]
            k = next(i for i in range(1, len(arrivals) + 1) if ordinal(i) == nth)
            event = arrivals[k - 1]
            # the value is the last one the frame recorded for that name up to that event
            frame_events = [r for r in trace[: trace.index(event) + 1] if r.get("frame") == event["frame"]]
            values = [r["vars"][name] for r in frame_events if r["kind"] == "line" and name in r["vars"]]
            assert response == values[-1]
        else:
            func, nth = re.search(r"the (\w+) call of `(.+?)`", prompt).group(2, 1)
            calls = [r for r in trace if r["kind"] == "call" and r["func"] == func]
            call = next(c for i, c in enumerate(calls, 1) if ordinal(i) == nth)
            ret = next(r for r in trace[trace.index(call):] if r["kind"] == "return" and r["frame"] == call["frame"])
            assert response == ret["value"]


def test_template_choice_is_deterministic_by_seed(py_dump):
    first = list(CodeTrace(seed=5).rows(py_dump))
    assert first == list(CodeTrace(seed=5).rows(py_dump))
    mixes = {tuple((r["trace_id"], r["template"], r["prompt"]) for r in CodeTrace(seed=s).rows(py_dump))
             for s in range(8)}
    assert len(mixes) > 1


def test_templates_and_rows_per_trace_options(py_dump):
    rows = list(CodeTrace(templates=["output"]).rows(py_dump))
    assert rows and {r["template"] for r in rows} == {"output"}
    many = list(CodeTrace(rows_per_trace=3).rows(py_dump))
    per_trace: dict = {}
    for r in many:
        per_trace.setdefault(r["trace_id"], []).append(r["template"])
    assert all(len(set(t)) == len(t) <= 3 for t in per_trace.values())
    assert max(len(t) for t in per_trace.values()) == 3
    with pytest.raises(ValueError, match="unknown template"):
        CodeTrace(templates=["poem"])


def test_long_traces_are_cut_with_an_explicit_marker(py_dump):
    rows = [r for r in _all_rows(py_dump, templates=["trace"], max_steps=20) if r["source_path"] == "long_loop.py"]
    assert len(rows) == 1
    last = rows[0]["response"].split("\n")[-1]
    assert re.fullmatch(rf"{records.TRUNCATION_MARKER} \d+ more steps", last)
    assert "more than 20 steps" in rows[0]["prompt"]


def test_failed_programs_give_rows_and_unusable_traces_are_counted(py_dump):
    strategy = CodeTrace(rows_per_trace=4)
    rows = list(strategy.rows(py_dump))
    crash = [r for r in rows if r["source_path"] == "crash.py"]
    assert crash and all(r["template"] != "output" for r in crash)  # output of a failed run is not asked
    only_ok = CodeTrace(statuses=["ok"])
    assert not [r for r in only_ok.rows(py_dump) if r["source_path"] == "crash.py"]
    assert only_ok.skipped["status runtime_error"] == 1


def test_codetrace_is_registered_through_the_strategy_hook():
    assert plugins.strategies()["codetrace"] is CodeTrace


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None,
                    reason="pyarrow is not installed (pip install 'codealchemy[parquet]')")
def test_parquet_rows_round_trip(tmp_path, py_dump):
    import pyarrow.parquet as pq

    from codealchemy.tracer.rows import write_rows

    rows = _all_rows(py_dump)
    n = write_rows(iter(rows), tmp_path / "rows.parquet", "parquet", batch=3)
    assert n == len(rows)
    assert pq.read_table(tmp_path / "rows.parquet").to_pylist() == rows


@pytest.mark.skipif(importlib.util.find_spec("datasets") is None,
                    reason="Hugging Face `datasets` is not installed (the [test] extra has it)")
def test_parquet_rows_load_with_datasets(tmp_path, py_dump):
    import datasets

    from codealchemy.tracer.rows import write_rows

    rows = _all_rows(py_dump)
    write_rows(iter(rows), tmp_path / "rows.parquet", "parquet")
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "rows.parquet"), split="train",
                               cache_dir=str(tmp_path / "cache"))
    assert len(ds) == len(rows)
    assert ds[0]["text"] == rows[0]["text"]
    assert json.loads(json.dumps(ds[len(rows) - 1]))["source_sha256"] == rows[-1]["source_sha256"]
