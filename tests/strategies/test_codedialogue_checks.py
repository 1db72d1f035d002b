"""CodeDialogue checks its answers' code: per block in the seed's language, does it parse.
Scripted answers give each verdict (the real model's turns are tested in tests/evals)."""

from __future__ import annotations

import pytest
from mixed import MIXED, Scripted

from codealchemy.strategies.codedialogue import CodeDialogue
from codealchemy.tracer.generators import GenerationParams
from codealchemy.tracer.testing import check_rows, inputs

GOOD = {"python": "def f(x):\n    return x + 1\n", "javascript": "const f = (x) => x + 1;\n",
        "ruby": "def f(x)\n  x + 1\nend\n"}
BAD = {"python": "def f(x:\n", "javascript": "const f = (x => ;\n", "ruby": "def f(x\n  x +\n"}


def _answer(blocks: str):
    def answer(request) -> str:
        if request.id.split("#")[-1].startswith("q"):
            return "What does this file do?"
        lang = next(x for x in GOOD if f"```{x}" in request.messages[0]["content"])   # the opening has the seed
        return {"good": f"Like this:\n```{lang}\n{GOOD[lang]}```",
                "bad": f"Like this:\n```{lang}\n{GOOD[lang]}```\nor\n```\n{BAD[lang]}```",
                "other": "```text\nnot code\n```", "none": "It adds one."}[blocks]
    return answer


@pytest.mark.parametrize(("blocks", "verified"), [("good", True), ("bad", False), ("other", None), ("none", None)])
def test_the_answers_code_blocks_are_parsed(mixed_corpus, blocks, verified):
    strategy = CodeDialogue(turns=2)
    strategy.load(Scripted(_answer(blocks)), GenerationParams(max_tokens=16))
    try:
        got = check_rows(strategy.process(inputs(mixed_corpus, CodeDialogue.consumes)))
    finally:
        strategy.unload()
    assert len(got) == len(MIXED) and all(r["status"] == "ok" for r in got)
    for r in got:
        assert r["verified"] is verified and r["verification"], r
        want = {"good": [True, True], "bad": [True, False] * 2, "other": [], "none": []}[blocks]
        assert r["answer_blocks_parse"] == want
