"""The vllm generator's pure part, without vLLM (no GPU here): sampling params, one engine call
per kind of request, outputs back in order, a batch the engine refuses retried one by one. The
engine is a stand-in module with vLLM's call shapes (LLM.chat / LLM.generate, RequestOutput);
benchmarks/device/vllm_check.py runs the real one on a GPU machine."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest

from codealchemy.tracer.generators import GenerationParams, GeneratorError, Request
from codealchemy.tracer.generators.vllm import (
    VLLMGenerator,
    run_isolating,
    sampling_kwargs,
    split_batch,
    to_completion,
)


def test_sampling_params_from_generation_params():
    assert sampling_kwargs(GenerationParams(max_tokens=9, temperature=0.2, stop=("x",), extra={"top_k": 4})) == {
        "max_tokens": 9, "temperature": 0.2, "top_p": 1.0, "seed": 0, "stop": ["x"], "top_k": 4}
    assert "stop" not in sampling_kwargs(GenerationParams())


def test_a_mixed_batch_splits_into_one_chat_call_and_one_generate_call():
    reqs = [Request.user("a", "q1"), Request("b", prompt="p1"), Request.user("c", "q2", system="s")]
    chat_at, convs, prompt_at, prompts = split_batch(reqs)
    assert (chat_at, prompt_at, prompts) == ([0, 2], [1], ["p1"])
    assert convs == [[{"role": "user", "content": "q1"}],
                     [{"role": "system", "content": "s"}, {"role": "user", "content": "q2"}]]


def output(text, finish="stop", prompt_tokens=3, tokens=2):
    return SimpleNamespace(prompt_token_ids=list(range(prompt_tokens)),
                           outputs=[SimpleNamespace(text=text, finish_reason=finish, token_ids=list(range(tokens)))])


def test_request_output_to_completion_keeps_tokens_and_reasoning():
    c = to_completion(Request.user("a", "q"), output("<think>hm</think>42", "length", 5, 7))
    assert (c.id, c.text, c.reasoning, c.finish_reason, c.prompt_tokens, c.completion_tokens) == (
        "a", "42", "hm", "length", 5, 7)


def test_a_refused_batch_is_retried_one_by_one_so_only_the_bad_item_fails():
    calls = []

    def call(items):
        calls.append(list(items))
        if "bad" in items:
            raise ValueError("prompt too long")
        return [i.upper() for i in items]

    out = run_isolating(call, ["a", "bad", "c"])
    assert out[0] == "A" and isinstance(out[1], ValueError) and out[2] == "C"
    assert calls == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]
    assert run_isolating(call, ["a", "b"]) == ["A", "B"] and run_isolating(call, []) == []
    with pytest.raises(GeneratorError, match="1 outputs for 2"):
        run_isolating(lambda items: ["x"], ["a", "b"])


@pytest.fixture
def fake_vllm(monkeypatch):
    made = []

    class LLM:
        def __init__(self, model, **kw):
            self.model, self.kw, self.calls = model, kw, []
            made.append(self)

        def chat(self, conversations, sp, use_tqdm=True, **kw):
            self.calls.append(("chat", conversations, sp, kw))
            if any("too long" in c[-1]["content"] for c in conversations):
                raise ValueError("prompt is longer than the context")
            return [output("chat:" + c[-1]["content"]) for c in conversations]

        def generate(self, prompts, sp, use_tqdm=True):
            self.calls.append(("generate", prompts, sp, {}))
            return [output("gen:" + p) for p in prompts]

    module = types.ModuleType("vllm")
    module.LLM, module.SamplingParams = LLM, lambda **kw: kw
    monkeypatch.setitem(sys.modules, "vllm", module)
    return made


def test_generate_runs_one_engine_batch_per_kind_and_answers_in_order(fake_vllm):
    gen = VLLMGenerator(model="org/model", tensor_parallel_size=2, chat_template_kwargs={"enable_thinking": False})
    assert fake_vllm == []  # the engine starts at the first call
    reqs = [Request.user("a", "q1"), Request("b", prompt="p1"), Request.user("c", "too long"), Request.user("d", "q2")]
    out = gen.generate(reqs, GenerationParams(max_tokens=5))
    assert [(c.id, c.text, c.ok) for c in out] == [("a", "chat:q1", True), ("b", "gen:p1", True), ("c", "", False),
                                                   ("d", "chat:q2", True)]
    assert "longer than the context" in out[2].error
    [llm] = fake_vllm
    assert (llm.model, llm.kw) == ("org/model", {"tensor_parallel_size": 2})
    assert [k for k, *_ in llm.calls] == ["chat", "chat", "chat", "chat", "generate"]
    assert llm.calls[0][2]["max_tokens"] == 5
    assert llm.calls[0][3] == {"chat_template_kwargs": {"enable_thinking": False}}
    gen.generate([Request("e", prompt="p")], GenerationParams())
    assert len(fake_vllm) == 1  # one engine for the generator's life


def test_vllm_needs_a_model_and_says_how_to_install_the_engine(monkeypatch):
    with pytest.raises(GeneratorError, match="needs a model"):
        VLLMGenerator()
    monkeypatch.setitem(sys.modules, "vllm", None)  # not installed
    with pytest.raises(GeneratorError, match=r"pip install 'codealchemy\[vllm\]'"):
        VLLMGenerator(model="m").generate([Request.user("a", "q")], GenerationParams())
