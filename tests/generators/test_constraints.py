"""A request's `choices` reach each backend in the form it takes (GBNF for llama.cpp's servers,
vLLM's structured outputs in both spellings, nothing for `none` and the `file` generator), are
part of the cache key, and really constrain llama.cpp's server with the bundled small model."""

from __future__ import annotations

import json
import sys
import types
from types import SimpleNamespace

import pytest

from codealchemy.tracer.generators import GenerationParams, GeneratorError, Request
from codealchemy.tracer.generators.cache import cache_key
from codealchemy.tracer.generators.constraints import (
    constraint_body,
    gbnf_choices,
    gbnf_literal,
    vllm_constraint,
)
from codealchemy.tracer.generators.file import FileGenerator
from codealchemy.tracer.generators.openai import OpenAIGenerator, request_body
from codealchemy.tracer.generators.vllm import VLLMGenerator

VERDICTS = ("VERDICT: A", "VERDICT: B", "VERDICT: TIE")


def test_choices_are_checked_and_kept_as_a_tuple():
    assert Request.user("a", "q", choices=["x", "y"]).choices == ("x", "y")
    assert Request.user("a", "q").choices is None
    for bad in ((), ("x", "x"), ("x", ""), ("x", 3)):
        with pytest.raises(ValueError, match="choices"):
            Request.user("a", "q", choices=bad)


def test_choices_are_part_of_the_cache_key_and_not_of_the_file_generators_match(tmp_path):
    params = GenerationParams()
    free, closed = Request.user("a", "q"), Request.user("a", "q", choices=VERDICTS)
    assert cache_key("g", "m", params, free) != cache_key("g", "m", params, closed)
    assert cache_key("g", "m", params, free) == cache_key("g", "m", params, Request.user("b", "q"))
    assert "choices" not in free.payload() and closed.payload()["choices"] == list(VERDICTS)
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"prompt": "q", "completion": "free text"}) + "\n")
    assert FileGenerator(path).generate([closed], params)[0].text == "free text"  # ignored: the caller checks


def test_gbnf_literals_escape_what_gbnf_reads_specially():
    assert gbnf_literal('say "hi"\\\n\tdone\r\x01é') == '"say \\"hi\\"\\\\\\n\\tdone\\r\\x01é"'
    assert gbnf_choices(VERDICTS) == 'root ::= "VERDICT: A" | "VERDICT: B" | "VERDICT: TIE"'


def test_each_dialect_puts_the_choices_where_its_server_reads_them():
    req = Request.user("a", "q", choices=("yes", "no"))
    assert constraint_body(req, "none") == {}
    assert constraint_body(req, "gbnf") == {"grammar": 'root ::= "yes" | "no"'}
    assert constraint_body(req, "structured_outputs") == {"structured_outputs": {"choice": ["yes", "no"]}}
    assert constraint_body(req, "guided") == {"guided_choice": ["yes", "no"]}
    assert constraint_body(Request.user("b", "q"), "gbnf") == {}
    _, body = request_body(req, GenerationParams(max_tokens=3), "m", "gbnf")
    assert body["grammar"] == 'root ::= "yes" | "no"' and body["messages"] == [{"role": "user", "content": "q"}]
    _, body = request_body(Request("p", prompt="x", choices=("1", "2")), GenerationParams(), "m", "guided")
    assert body["guided_choice"] == ["1", "2"] and body["prompt"] == "x"
    with pytest.raises(GeneratorError, match="constrain='regex'"):
        OpenAIGenerator(model="m", constrain="regex")


def test_vllm_uses_structured_outputs_where_it_has_them_else_guided_decoding():
    req = Request.user("a", "q", choices=("yes", "no"))

    class Params(SimpleNamespace):
        pass

    new = SimpleNamespace(StructuredOutputsParams=Params, GuidedDecodingParams=Params)
    old = SimpleNamespace(GuidedDecodingParams=Params)
    assert vllm_constraint(req, new) == {"structured_outputs": Params(choice=["yes", "no"])}
    assert vllm_constraint(req, old) == {"guided_decoding": Params(choice=["yes", "no"])}
    assert vllm_constraint(Request.user("b", "q"), SimpleNamespace()) == {}
    with pytest.raises(GeneratorError, match="cannot constrain"):
        vllm_constraint(req, SimpleNamespace())


def test_vllm_gives_a_constrained_request_its_own_sampling_params(monkeypatch):
    calls = []

    class LLM:
        def __init__(self, model, **kw):
            pass

        def chat(self, conversations, sp, use_tqdm=True, **kw):
            calls.append(sp)
            return [SimpleNamespace(prompt_token_ids=[1], outputs=[SimpleNamespace(text="yes", finish_reason="stop",
                                                                                    token_ids=[1])])
                    for _ in conversations]

    module = types.ModuleType("vllm")
    module.LLM, module.SamplingParams = LLM, lambda **kw: kw
    sampling = types.ModuleType("vllm.sampling_params")
    sampling.StructuredOutputsParams = lambda **kw: ("so", kw)
    module.sampling_params = sampling
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", sampling)
    gen, params = VLLMGenerator(model="m"), GenerationParams(max_tokens=4)
    gen.generate([Request.user("a", "q"), Request.user("b", "q")], params)
    gen.generate([Request.user("a", "q"), Request.user("b", "q", choices=("yes", "no"))], params)
    assert calls[0] == {"max_tokens": 4, "temperature": 0.0, "top_p": 1.0, "seed": 0}  # one for all
    assert calls[1] == [calls[0], {**calls[0], "structured_outputs": ("so", {"choice": ["yes", "no"]})}]


def test_the_small_model_answers_only_with_a_choice_under_gbnf(llama_server):
    """For real: unconstrained, SmolLM2 does not answer with a verdict line; constrained, every answer is one."""
    prompts = ["Which answer is better, A or B? A: 2+2=4. B: 2+2=5.", "Pick one.", "Write a poem about the sea."]
    params = GenerationParams(max_tokens=8, temperature=0.0)
    with OpenAIGenerator(model=llama_server.model, base_url=llama_server.base_url, api_key="", concurrency=1,
                         constrain="gbnf") as gen:
        free = gen.generate([Request.user(str(i), p) for i, p in enumerate(prompts)], params)
        closed = gen.generate([Request.user(str(i), p, choices=VERDICTS) for i, p in enumerate(prompts)], params)
        odd = gen.generate([Request.user("q", "Quote it.", choices=('say "x"\nnow', "no"))], params)
    assert all(c.ok for c in free + closed + odd)
    assert not all(c.text in VERDICTS for c in free)
    assert [c.text in VERDICTS for c in closed] == [True] * len(prompts)
    assert odd[0].text in ('say "x"\nnow', "no")
