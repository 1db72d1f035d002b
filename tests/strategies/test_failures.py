"""Failed model calls and unusable inputs are rows of every LLM strategy, never drops."""

from __future__ import annotations

import pytest
from mixed import MIXED

from codealchemy.strategies.codedev import CodeDev
from codealchemy.strategies.codeenhance import CodeEnhance
from codealchemy.strategies.codeqa import CodeQA
from codealchemy.tracer.contracts import Input
from codealchemy.tracer.generators import Completion, GenerationParams
from codealchemy.tracer.testing import check_rows, inputs


class Refusing:
    name, model = "refusing", "none"

    def generate(self, requests, params):
        return [Completion.failed(r.id, "connection refused") for r in requests]


@pytest.mark.parametrize(("strategy", "per_seed"), [(CodeQA(templates=("print", "explain")), 2),
                                                    (CodeEnhance(), 1), (CodeDev(tasks=("review", "refactor")), 2)])
def test_failed_calls_and_unreadable_inputs_are_rows(strategy, per_seed, mixed_corpus):
    unreadable = Input(id="gone", kind="trace", language="python", code=None, sha256=None,
                       code_error="the source is not in the dump")
    strategy.load(Refusing(), GenerationParams(max_tokens=8))
    try:
        got = check_rows(strategy.process([*inputs(mixed_corpus, ("sources",)), unreadable]))
    finally:
        strategy.unload()
    assert len(got) == len(MIXED) * per_seed + 1
    assert {r["status"] for r in got if r["source_id"] != "gone"} == {"generation_error"}
    assert all("connection refused" in r["reason"] for r in got if r["source_id"] != "gone")
    gone = [r for r in got if r["source_id"] == "gone"]
    assert len(gone) == 1 and gone[0]["status"] == "skipped" and "not in the dump" in gone[0]["reason"]


@pytest.mark.parametrize("factory", [CodeQA, CodeEnhance, CodeDev])
def test_seeds_overlapping_a_benchmark_are_contaminated_rows(factory, mixed_corpus, tmp_path):
    bench = tmp_path / "tasks.jsonl"
    bench.write_text('{"id": "t1", "prompt": "What does it print?\\n```python\\n' +
                     MIXED["fib.py"].replace("\n", "\\n") + '```"}\n')
    strategy = factory(decontaminate=(bench,))
    strategy.load(Refusing(), GenerationParams(max_tokens=8))
    try:
        got = check_rows(strategy.process(inputs(mixed_corpus, ("sources",))))
    finally:
        strategy.unload()
    fib = [r for r in got if r["source_id"].endswith("fib.py")]
    assert len(fib) == 1 and fib[0]["status"] == "contaminated" and f"{bench}:t1" in fib[0]["reason"]
    assert all(r["status"] == "generation_error" for r in got if r not in fib)   # the others were asked
    with pytest.raises(ValueError, match="no reference file"):
        factory(decontaminate=(tmp_path / "missing.jsonl",))
