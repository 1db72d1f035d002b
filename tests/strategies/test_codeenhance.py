"""CodeEnhance: rubric rating parsed strictly, rewrite passes, the rewrite parsed and run by the
tracer (same stdout and exit code as the seed). Scripted answers check the verdicts; the real
small model checks the mechanics (rows, kept raw output, statuses)."""

from __future__ import annotations

import pytest
from mixed import MIXED, Scripted

from codealchemy.strategies.codeenhance import RATINGS, CodeEnhance, parse_rating
from codealchemy.tracer.generators import GenerationParams
from codealchemy.tracer.testing import check_rows, inputs

#: a line that changes what each program prints (crash.py's breaks its syntax instead)
EXTRA = {"fib.py": "print(1)\n", "crash.py": "def div(a, b:\n", "sum.js": "console.log(1);\n", "greet.rb": "puts 1\n"}
STATUSES = {"ok", "unparsed_rating", "no_code", "verification_failed", "generation_error"}


def _run(strategy, generator, corpus, max_tokens=48):
    strategy.load(generator, GenerationParams(max_tokens=max_tokens))
    try:
        return check_rows(strategy.process(inputs(corpus, CodeEnhance.consumes)))
    finally:
        strategy.unload()


def _seed(request) -> str:
    text = request.messages[-1]["content"]
    return max(MIXED, key=lambda n: sum(line in text for line in MIXED[n].splitlines()))


@pytest.mark.parametrize(("text", "score"), [
    ("Good.\nRating: [[7]]", 7.0), ("Rating: [[3]] then Rating: [[8.5]]", 8.5), ("Rating: [ [7] ]", None),
    ("Rating: 7", None), ("Rating: [[11]]", None), ("", None)])
def test_the_rating_is_parsed_strictly(text, score):
    assert parse_rating(text) == score


def _answers(rewrite):
    def answer(request):
        if "Rating: [[X]]" in request.messages[-1]["content"]:
            return "Readable enough.\nRating: [[6]]"
        return f"Here it is:\n```\n{rewrite(_seed(request))}```"
    return answer


def test_a_rewrite_that_keeps_behaviour_is_verified_and_one_that_changes_it_fails(mixed_corpus):
    same = _run(CodeEnhance(), Scripted(_answers(lambda name: MIXED[name] + "\n")), mixed_corpus)
    assert len(same) == len(MIXED) and {r["status"] for r in same} == {"ok"}
    for r in same:
        assert r["verified"] is True and r["verification"] == "same stdout and exit code"
        assert (r["raw_quality"], r["rewritten_quality"]) == (6.0, 6.0)
        assert r["raw_has_syntax_error_tree_sitter"] is False and r["rewritten_has_syntax_error_tree_sitter"] is False
        assert r["raw"] == MIXED[r["source_id"].rsplit("/", 1)[-1]] and r["passes"] == ["style", "optimize"]
    changed = _run(CodeEnhance(passes=("style",)),
                   Scripted(_answers(lambda name: MIXED[name] + EXTRA[name])), mixed_corpus)
    by = {r["source_id"].rsplit("/", 1)[-1]: r for r in changed}
    assert {r["status"] for r in changed} == {"verification_failed"} and all(r["rewritten"] for r in changed)
    assert by["crash.py"]["rewritten_has_syntax_error_tree_sitter"] is True
    assert "does not parse" in by["crash.py"]["reason"]


def test_an_unparsed_rating_is_a_failure_row_with_the_raw_output(mixed_corpus):
    got = _run(CodeEnhance(), Scripted(lambda r: "It is fine, 8 out of 10."), mixed_corpus)
    assert {r["status"] for r in got} == {"unparsed_rating"} and len(got) == len(MIXED)
    assert all(r["raw_output"] == "It is fine, 8 out of 10." and r["raw"] for r in got)


def test_against_the_small_model_every_seed_is_a_row(small_model, mixed_corpus):
    got = _run(CodeEnhance(passes=("style",)), small_model, mixed_corpus, max_tokens=64)
    assert len(got) == len(MIXED) and {r["status"] for r in got} <= STATUSES
    for r in got:
        assert r["raw"] == MIXED[r["source_id"].rsplit("/", 1)[-1]] and r["raw_has_syntax_error_tree_sitter"] is False
        if r["status"] != "generation_error":
            assert r["raw_output"]           # what the model said is kept, whatever became of it
        if r["status"] == "ok":
            assert r["rewritten"] and isinstance(r["rewritten_quality"], float) and r["verification"]


def test_under_the_grammar_the_small_model_always_gives_a_rating(llama_server, mixed_corpus):
    from codealchemy.tracer.generators.openai import OpenAIGenerator

    with OpenAIGenerator(model=llama_server.model, base_url=llama_server.base_url, api_key="", concurrency=4,
                         constrain="gbnf") as gen:
        got = _run(CodeEnhance(passes=("style",)), gen, mixed_corpus, max_tokens=48)
    assert len(got) == len(MIXED) and "unparsed_rating" not in {r["status"] for r in got}
    for r in got:
        assert r["raw_quality_output"] in RATINGS and r["raw_quality"] == parse_rating(r["raw_quality_output"])
