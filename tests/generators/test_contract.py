"""The typed generator contract: requests, completions, params, the failure ledger."""

from __future__ import annotations

import pytest

from codealchemy.tracer.generators import (
    Completion,
    Failure,
    GenerationParams,
    Request,
    failures,
    parse_options,
)


def test_a_request_is_messages_or_a_prompt_never_both_nor_neither():
    chat = Request.user("1", "hi", system="be brief")
    assert chat.kind == "chat" and chat.payload() == {"messages": [{"role": "system", "content": "be brief"},
                                                                   {"role": "user", "content": "hi"}]}
    assert Request("2", prompt="def f(").kind == "completion" and Request("2", prompt="x").payload() == {"prompt": "x"}
    assert Request.user("3", "only me").text() == "only me"
    assert chat.text().startswith("[{")  # several messages: canonical JSON, one string per conversation
    for bad in (dict(), dict(prompt="a", messages=({"role": "user", "content": "a"},)),
                dict(messages=()), dict(messages=({"role": "robot", "content": "a"},)),
                dict(messages=({"role": "user", "content": 3},)), dict(prompt=3)):
        with pytest.raises(ValueError, match="request 'x'"):
            Request("x", **bad)


def test_completion_renders_reasoning_before_the_answer_and_round_trips():
    c = Completion("1", text="42", reasoning="  6*7  ", finish_reason="stop", prompt_tokens=5, completion_tokens=3)
    assert c.ok and c.has_reasoning and c.rendered() == "<think>\n6*7\n</think>\n42"
    assert Completion.from_dict(c.to_dict()) == c
    assert not Completion("2", text="x", reasoning=" \n").has_reasoning
    bad = Completion.failed("3", "HTTP 500: boom", attempts=4)
    assert not bad.ok and bad.text == "" and bad.finish_reason == "error"
    assert failures([c, bad]) == [Failure("3", "HTTP 500: boom", 4)]


def test_params_and_options_from_key_value_pairs():
    p = GenerationParams.from_pairs(["temperature=0.7", "max_tokens=64", "stop=[\"\\n\\n\"]", "top_k=5"])
    assert (p.temperature, p.max_tokens, p.stop, p.extra) == (0.7, 64, ("\n\n",), {"top_k": 5})
    assert p.to_dict()["stop"] == ["\n\n"]
    assert parse_options(["path=x.jsonl", "missing=empty", "batch-size=3"]) == {
        "path": "x.jsonl", "missing": "empty", "batch_size": 3}
    with pytest.raises(ValueError, match="not key=value"):
        GenerationParams.from_pairs(["temperature"])
