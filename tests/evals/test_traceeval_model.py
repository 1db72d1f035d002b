"""TraceEval with a real model: `trace eval traceeval build|predict|score` on a dump of real runs,
the bundled SmolLM2-135M (the `llamacpp` generator, its own llama.cpp server) as the candidate.
Its traces are poor; the test checks the mechanics (every task predicted and scored, the raw
output kept, every metric a fraction), not the figures."""

from __future__ import annotations

import json

import pytest
from test_cli import trace

from codealchemy.evals.traceeval.metrics import METRICS
from codealchemy.tracer.generators.llamacpp import missing_reason


@pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
def test_traceeval_end_to_end_with_the_bundled_model(small_dump, tmp_path):
    r = trace("eval", "traceeval", "build", small_dump, "--out", "tasks.jsonl", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    tasks = [json.loads(line) for line in (tmp_path / "tasks.jsonl").read_text().splitlines()]
    assert len(tasks) == 2  # the two programs that end ok

    r = trace("eval", "traceeval", "predict", "tasks.jsonl", "--generator", "llamacpp", "--param", "max_tokens=48",
              "--out", "preds.jsonl", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    preds = [json.loads(line) for line in (tmp_path / "preds.jsonl").read_text().splitlines()]
    assert [p["id"] for p in preds] == [t["id"] for t in tasks]
    for p in preds:
        assert "error" not in p and p["prediction"].strip() and p["generator"] == "llamacpp"
        assert p["raw_output"] == p["prediction"] and p["has_reasoning"] is False  # SmolLM2 does not reason

    r = trace("eval", "traceeval", "score", "tasks.jsonl", "preds.jsonl", "--json", "--per-task", "each.jsonl",
              cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["n"] == 2 and got["unavailable"] == {} and set(got["by_language"]) == {"python"}
    each = [json.loads(line) for line in (tmp_path / "each.jsonl").read_text().splitlines()]
    for metric in METRICS:
        assert 0.0 <= got[metric] <= 1.0
        assert got[metric] == pytest.approx(sum(e[metric] for e in each) / len(each))
    table = trace("eval", "traceeval", "score", "tasks.jsonl", "preds.jsonl", cwd=tmp_path)
    assert table.returncode == 0 and "rouge2 standard" in table.stdout and "state accuracy" in table.stdout
