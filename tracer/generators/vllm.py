"""The `vllm` generator: vLLM's offline engine (extra `[vllm]`, a GPU), one engine batch per
generate() call: chat requests through `LLM.chat` (the model's chat template applied), prompt
requests through `LLM.generate`, SamplingParams made from GenerationParams.

Options: `model` (a Hugging Face id or a local directory), `chat_template_kwargs` (e.g.
{"enable_thinking": true}), and any other keyword, passed to `vllm.LLM` as is
(tensor_parallel_size, dtype, max_model_len, gpu_memory_utilization, …). `params.extra` keys go
to SamplingParams (top_k, min_p, repetition_penalty, …). The engine starts at the first call.

A batch the engine refuses as a whole (one prompt longer than the context, say) is retried one
request at a time, so only the bad request fails. Reasoning is split off the text as for
`openai` (harmony channels, <think>). A request with `choices` gets its own SamplingParams with
structured outputs (`.constraints.vllm_constraint`).

Everything up to the engine call is pure and tested without vLLM (tests/generators/
test_vllm_requests.py). On a GPU machine with vLLM and a model, the real check is
`python benchmarks/device/vllm_check.py --model MODEL` (chat and completion requests, the
cache, throughput).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

from . import Completion, GenerationParams, GeneratorError, Request
from .constraints import vllm_constraint
from .reasoning import split_reasoning


def sampling_kwargs(params: GenerationParams) -> dict[str, Any]:
    """SamplingParams(**this): the common params, then `extra` as is."""
    kw: dict[str, Any] = {"max_tokens": params.max_tokens, "temperature": params.temperature, "top_p": params.top_p,
                          "seed": params.seed}
    if params.stop:
        kw["stop"] = list(params.stop)
    return {**kw, **params.extra}


def split_batch(requests: Sequence[Request]) -> tuple[list[int], list[list[dict]], list[int], list[str]]:
    """(chat indexes, conversations, prompt indexes, prompts): one engine call for each kind."""
    chat_at, conversations, prompt_at, prompts = [], [], [], []
    for i, r in enumerate(requests):
        if r.kind == "chat":
            chat_at.append(i)
            conversations.append([dict(m) for m in r.messages])
        else:
            prompt_at.append(i)
            prompts.append(r.prompt)
    return chat_at, conversations, prompt_at, prompts


def to_completion(req: Request, output: Any) -> Completion:
    """From a vLLM RequestOutput (its first sample)."""
    sample = output.outputs[0]
    reasoning, text = split_reasoning(sample.text)
    return Completion(req.id, text=text, reasoning=reasoning, finish_reason=sample.finish_reason,
                      prompt_tokens=len(output.prompt_token_ids or ()), completion_tokens=len(sample.token_ids or ()))


def run_isolating(call: Callable[[list], list], items: list) -> list[Any | Exception]:
    """call(items) -> one output per item; when the whole call raises, each item alone, so an
    item that fails gets its exception and the others their outputs."""
    if not items:
        return []
    try:
        outputs = call(items)
    except Exception as e:
        if len(items) == 1:
            return [e]
        outputs = [run_isolating(call, [item])[0] for item in items]
    if len(outputs) != len(items):
        raise GeneratorError(f"vLLM gave {len(outputs)} outputs for {len(items)} requests")
    return outputs


class VLLMGenerator:
    name = "vllm"

    def __init__(self, model: str | None = None, chat_template_kwargs: dict | None = None, **engine_options: Any):
        if not model:
            raise GeneratorError("the vllm generator needs a model (e.g. --option model=Qwen/Qwen2.5-0.5B-Instruct)")
        self.model, self.chat_template_kwargs, self.engine_options = model, chat_template_kwargs, engine_options
        self._llm = None

    def _engine(self):
        if self._llm is None:
            try:
                from vllm import LLM
            except ImportError:
                raise GeneratorError("the vllm generator needs vLLM: pip install 'codealchemy[vllm]'") from None
            self._llm = LLM(model=self.model, **self.engine_options)
        return self._llm

    def generate(self, requests: Sequence[Request], params: GenerationParams) -> list[Completion]:
        if not requests:
            return []
        llm = self._engine()
        from vllm import SamplingParams

        kw = sampling_kwargs(params)
        sp = SamplingParams(**kw)
        own = {i: SamplingParams(**kw, **vllm_constraint(r, importlib.import_module("vllm.sampling_params")))
               for i, r in enumerate(requests) if r.choices is not None}
        chat_at, conversations, prompt_at, prompts = split_batch(requests)
        chat_kw = {"chat_template_kwargs": self.chat_template_kwargs} if self.chat_template_kwargs else {}

        def run(call: Callable[[list, Any], list], at: list[int], items: list) -> list:
            """call(items, params) isolating failures; params one for all, or one per item where
            some request is constrained."""
            def chunk_call(chunk: list) -> list:
                per_item = [own.get(i, sp) for i, _ in chunk] if any(i in own for i, _ in chunk) else sp
                return call([x for _, x in chunk], per_item)
            return run_isolating(chunk_call, list(zip(at, items, strict=True)))

        out: list[Completion | None] = [None] * len(requests)
        for at, outputs in ((chat_at, run(lambda c, p: llm.chat(c, p, use_tqdm=False, **chat_kw), chat_at,
                                          conversations)),
                            (prompt_at, run(lambda ps, p: llm.generate(ps, p, use_tqdm=False), prompt_at, prompts))):
            for i, o in zip(at, outputs, strict=True):
                req = requests[i]
                out[i] = (Completion.failed(req.id, f"vLLM: {type(o).__name__}: {o}") if isinstance(o, Exception)
                          else to_completion(req, o))
        return out
