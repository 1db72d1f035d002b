"""CodeQA: questions from templates, answers checked by running the seed with the tracer. Against
the real small model (the mechanics: rows, checks, statuses) and with scripted right and wrong
answers (that a right answer is verified and a wrong one is not)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from mixed import MIXED, STDOUT, Scripted, trace_gen

from codealchemy.strategies.codeqa import MARKER, PROMPTS, CodeQA
from codealchemy.tracer.contracts import prompt_version
from codealchemy.tracer.generators import GenerationParams
from codealchemy.tracer.testing import check_rows, inputs


def _run(strategy, generator, corpus, max_tokens=32):
    strategy.load(generator, GenerationParams(max_tokens=max_tokens))
    try:
        return check_rows(strategy.process(inputs(corpus, CodeQA.consumes)))
    finally:
        strategy.unload()


def _seed_of(request) -> str:
    """The MIXED program a question is about (its code is in the prompt, maybe with one line changed)."""
    text = request.messages[-1]["content"]
    return max(MIXED, key=lambda n: sum(line in text for line in MIXED[n].splitlines()))


def _right(request) -> str:
    name, template = _seed_of(request), request.id.rsplit("#", 1)[1]
    if template == "print":
        return f"It prints:\n```\n{STDOUT[name]}```"
    if template == "find_bug":
        return f"The bug is fixed here:\n```\n{MIXED[name]}```"
    if template == "missing_line":
        gapped = request.messages[-1]["content"].split("```", 2)[1].split("\n", 1)[1].splitlines()
        n = next(i for i, line in enumerate(gapped) if MARKER in line)
        return f"```\n{MIXED[name].splitlines()[n].strip()}\n```"
    return "I do not know."


def test_right_answers_are_verified_and_wrong_ones_are_not(mixed_corpus):
    templates = ("print", "missing_line", "find_bug", "explain")
    right = _run(CodeQA(templates=templates), Scripted(_right), mixed_corpus)
    assert len(right) == len(MIXED) * len(templates)   # one row per seed and template, none dropped
    by = {(r["source_id"].rsplit("/", 1)[-1], r["template"]): r for r in right}
    for name in MIXED:
        assert by[name, "print"]["expected"] == STDOUT[name]   # the real stdout of the seed
        for t in ("print", "missing_line", "find_bug"):
            assert by[name, t]["verified"] is True, (name, t, by[name, t]["verification"])
        assert by[name, "explain"]["verified"] is None and by[name, "explain"]["status"] == "ok"
        planted = by[name, "find_bug"]["text"].split("\n\nAssistant:\n")[0]
        assert MIXED[name].strip() not in planted   # the question holds the seed with a bug planted
    wrong = _run(CodeQA(templates=("print", "find_bug")), Scripted(lambda r: "```\n42\n```"), mixed_corpus)
    assert {r["verified"] for r in wrong} == {False} and all(r["verification"] for r in wrong)


def test_against_the_small_model_every_question_is_a_row(small_model, mixed_corpus):
    got = _run(CodeQA(templates=("print", "returns", "write_function")), small_model, mixed_corpus)
    assert len(got) == len(MIXED) * 3
    for r in got:
        assert r["strategy"] == "codeqa" and r["prompt_version"] == prompt_version(PROMPTS, "codeqa")
        if r["status"] == "ok":
            assert r["raw_output"] is not None and r["verification"]
            if r["template"] in ("print", "returns"):
                assert isinstance(r["verified"], bool)   # every seed here runs: its answer is checked
            else:
                assert r["verified"] is None and ("parse" in r["verification"] or "no code block" in r["verification"])
        else:   # a template that does not fit a seed (no traced call with a value) is kept, with why
            assert r["status"] == "skipped" and r["template"] and r["reason"]
    returns = {r["source_id"].rsplit("/", 1)[-1]: r for r in got if r["template"] == "returns" and r["status"] == "ok"}
    assert returns["fib.py"]["expected"] == "55" and "`fib(10)`" in returns["fib.py"]["text"]


def test_other_languages_are_skipped_rows(mixed_corpus):
    got = _run(CodeQA(templates=("explain",), languages=("python",)), Scripted(lambda r: "ok"), mixed_corpus)
    assert len(got) == len(MIXED)
    skipped = [r for r in got if r["status"] == "skipped"]
    assert {r["language"] for r in skipped} == {"javascript", "ruby"}
    assert all("not one of codeqa's" in r["reason"] for r in skipped)


def test_trace_gen_codeqa_with_llamacpp_gives_rows_datasets_loads(mixed_corpus, llama_server, tmp_path):
    r = trace_gen("codeqa", mixed_corpus, "--generator", "llamacpp", "--param", "max_tokens=16",
                  "--templates", "print,explain", "--out", "rows.parquet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    good = check_rows(tmp_path / "rows.parquet")
    assert len(good) == len(MIXED) * 2 and all(x["generator"] == "llamacpp" for x in good)
    assert {x["verified"] for x in good if x["template"] == "print"} <= {True, False}
    import datasets

    loaded = datasets.load_dataset("parquet", data_files=str(tmp_path / "rows.parquet"), split="train")
    assert loaded.num_rows == len(good) and "verified" in loaded.column_names
    summary = json.loads((tmp_path / "rows.parquet.summary.json").read_text())
    assert summary["rows"] == len(good) and set(summary["by_language"]) == {"python", "javascript", "ruby"}
    assert pq.read_table(tmp_path / "rows.parquet").num_rows == len(good)


def test_a_dump_s_traces_are_the_reference_without_running_again(small_dump):
    strategy = CodeQA(templates=("print", "returns"))
    strategy.load(Scripted(lambda r: "```\n55\n```"), GenerationParams(max_tokens=8))
    try:
        got = check_rows(strategy.process(inputs(small_dump, CodeQA.consumes)))
        ran = dict(strategy.runner._seen)
    finally:
        strategy.unload()
    by = {(r["source_id"].rsplit("/", 1)[-1], r["template"]): r for r in got}
    assert by["fib.py", "print"]["verified"] is True and by["fib.py", "returns"]["verified"] is True
    assert by["words.py", "print"]["verified"] is False and by["crash.py", "print"]["expected"] == "2.0\n"
    assert all(r["trace_id"] for r in got)
    assert ran == {}   # the dump's traces were the reference: nothing was run again
