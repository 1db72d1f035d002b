"""CodeDev: developer tasks on a seed, the answers' code parsed and run by the tracer. Scripted
answers check the verdicts; the real small model checks the mechanics."""

from __future__ import annotations

from mixed import MIXED, Scripted

from codealchemy.strategies.codedev import PLACEHOLDER, TASKS, CodeDev
from codealchemy.tracer.generators import GenerationParams
from codealchemy.tracer.testing import check_rows, inputs

TESTS = {"fib.py": ("python", "assert fib(10) == 55\n"), "crash.py": ("python", "assert div(4, 2) == 2\n"),
         "sum.js": ("js", "if (sum([2, 3]) !== 5) process.exit(1);\n"),
         "greet.rb": ("ruby", "exit 1 unless greet('x') == 'hello, x'\n")}


def _run(strategy, generator, corpus, max_tokens=48):
    strategy.load(generator, GenerationParams(max_tokens=max_tokens))
    try:
        return check_rows(strategy.process(inputs(corpus, CodeDev.consumes)))
    finally:
        strategy.unload()


def _seed(request) -> str:
    text = request.messages[-1]["content"]
    return max(MIXED, key=lambda n: sum(line in text for line in MIXED[n].splitlines()))


def _right(request) -> str:
    name, task = _seed(request), request.id.rsplit("#", 1)[1]
    if task == "write_tests":
        fence, tests = TESTS[name]
        return f"```{fence}\n{tests}```"
    if task == "review":
        return "Looks fine."
    return f"Done:\n```\n{MIXED[name]}```"   # the seed itself: behaves as the seed (fix_bug: the fix)


def _by(got):
    return {(r["source_id"].rsplit("/", 1)[-1], r["task"]): r for r in got}


def test_right_answers_are_verified_wrong_ones_are_not(mixed_corpus):
    got = _by(_run(CodeDev(), Scripted(_right), mixed_corpus))
    assert len(got) == len(MIXED) * len(TASKS)
    for name in MIXED:
        for task in ("add_feature", "refactor", "fix_bug", "document"):
            assert got[name, task]["verified"] is True, (name, task, got[name, task]["verification"])
            assert got[name, task]["answer_blocks_parse"] == [True]
        assert got[name, "review"]["verified"] is None and got[name, "review"]["answer_code_blocks"] == 0
        assert MIXED[name].strip() not in got[name, "fix_bug"]["text"].split("\n\nAssistant:\n")[0]   # planted
    for name in ("fib.py", "sum.js", "greet.rb"):
        assert got[name, "write_tests"]["verified"] is True, got[name, "write_tests"]["verification"]
    assert got["crash.py", "write_tests"]["verified"] is None   # the seed exits 1: appended tests cannot pass
    wrong = _by(_run(CodeDev(tasks=("refactor", "write_tests")), Scripted(lambda r: "```\nif (\n```"), mixed_corpus))
    assert wrong["fib.py", "refactor"]["verified"] is False
    assert wrong["fib.py", "refactor"]["answer_blocks_parse"] == [False]
    assert wrong["sum.js", "write_tests"]["verified"] is False


def test_placeholders_stand_for_the_seed_in_the_text_only(mixed_corpus):
    seen = []
    scripted = Scripted(lambda r: seen.append(r.messages[-1]["content"]) or "Fine.")
    got = _run(CodeDev(tasks=("review",), placeholders=True), scripted, mixed_corpus)
    assert len(got) == len(MIXED)
    for r in got:
        code = MIXED[r["source_id"].rsplit("/", 1)[-1]].rstrip("\n")
        assert PLACEHOLDER in r["text"] and code not in r["text"] and r["placeholders"] is True
        assert any(code in prompt for prompt in seen)   # the model saw the file itself


def test_against_the_small_model_every_task_is_a_row(small_model, mixed_corpus):
    got = _run(CodeDev(tasks=("refactor", "review")), small_model, mixed_corpus)
    assert len(got) == len(MIXED) * 2
    for r in got:
        assert r["status"] == "ok" and r["raw_output"] is not None and r["verification"]
        assert len(r["answer_blocks_parse"]) <= r["answer_code_blocks"]
        assert (r["verified"] is None) == (r["task"] == "review")
