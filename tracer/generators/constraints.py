"""Constrained decoding: a request's `choices` in the form each backend takes.

A tiny model asked for `VERDICT: A` writes anything; with decoding constrained to the choices
it can only write one of them. Servers spell that differently, so an OpenAI-compatible server's
dialect is a generator option (`constrain`), not a guess:
- `gbnf`: llama.cpp's servers (llama-cpp-python's and `llama-server`) take a `grammar` in GBNF;
- `structured_outputs`: vLLM 0.11 and later, `{"structured_outputs": {"choice": [...]}}`;
- `guided`: vLLM before 0.12, `{"guided_choice": [...]}`;
- `none`: send nothing (OpenAI itself, a server of unknown kind): the caller's strict check of
  the answer is then all there is.
vLLM's offline engine takes `StructuredOutputsParams` (or, before it, `GuidedDecodingParams`)
in SamplingParams (`vllm_constraint`).
"""

from __future__ import annotations

from typing import Any

from . import GeneratorError, Request

DIALECTS = ("none", "gbnf", "structured_outputs", "guided")

_GBNF_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def gbnf_literal(text: str) -> str:
    """A GBNF string literal that matches `text` exactly (control characters as \\xNN)."""
    out = []
    for ch in text:
        if ch in _GBNF_ESCAPES:
            out.append(_GBNF_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def gbnf_choices(choices: tuple[str, ...]) -> str:
    """A GBNF grammar whose only sentences are the choices."""
    return "root ::= " + " | ".join(gbnf_literal(c) for c in choices)


def check_dialect(dialect: str) -> str:
    if dialect not in DIALECTS:
        raise GeneratorError(f"constrain={dialect!r}: use one of {', '.join(DIALECTS)}")
    return dialect


def constraint_body(req: Request, dialect: str) -> dict[str, Any]:
    """The request-body fields that constrain `req`'s answer on a server of `dialect` ({} when
    the request has no constraint or the dialect is `none`)."""
    if req.choices is None or dialect == "none":
        return {}
    if dialect == "gbnf":
        return {"grammar": gbnf_choices(req.choices)}
    if dialect == "structured_outputs":
        return {"structured_outputs": {"choice": list(req.choices)}}
    if dialect == "guided":
        return {"guided_choice": list(req.choices)}
    raise GeneratorError(f"constrain={dialect!r}: use one of {', '.join(DIALECTS)}")


def vllm_constraint(req: Request, sampling_params_module: Any) -> dict[str, Any]:
    """SamplingParams keywords that constrain `req` in vLLM's offline engine: `structured_outputs`
    where the engine has StructuredOutputsParams, else `guided_decoding` (GuidedDecodingParams)."""
    if req.choices is None:
        return {}
    params = getattr(sampling_params_module, "StructuredOutputsParams", None)
    if params is not None:
        return {"structured_outputs": params(choice=list(req.choices))}
    params = getattr(sampling_params_module, "GuidedDecodingParams", None)
    if params is not None:
        return {"guided_decoding": params(choice=list(req.choices))}
    raise GeneratorError("this vLLM has neither StructuredOutputsParams nor GuidedDecodingParams: "
                         "it cannot constrain an answer to choices")
