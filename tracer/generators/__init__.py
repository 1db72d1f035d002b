"""The Generator contract (LLM backends): requests in, one completion per request out.

`generate(requests, params) -> list[Completion]`: one completion per request, in order. A
request that fails (after the backend's retries) comes back as a Completion with `error` set,
never as an exception, so one bad request cannot sink a batch; `GeneratorError` is for a
generator that cannot work at all (bad options, a server that never starts).

Backends are plugins registered with `register_generators(register)`: `register(name,
factory)`, where `factory(**options)` returns a Generator. Built in: `file` (replays a JSONL),
`openai` (any OpenAI-compatible server), `llamacpp` (a local llama.cpp server with a small
bundled model), `vllm` (the offline engine). `with_cache` (in `.cache`) wraps any of them so
that already-answered requests cost nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol, runtime_checkable


class GeneratorError(RuntimeError):
    """A generator that cannot work at all (the message says why)."""


ROLES = ("system", "user", "assistant", "developer", "tool")


@dataclass(frozen=True)
class Request:
    """One thing to answer: chat `messages` (role/content dicts, for the chat endpoint and chat
    templates) or a plain `prompt` (raw text for the completion endpoint), never both. `id` is
    the caller's, carried to the completion; it takes no part in what the answer is.

    `choices`: the answer must be exactly one of these strings (a closed set: a verdict, a
    multiple choice). A generator that can constrain decoding maps it to what its backend
    takes (`constraint_body`, vLLM's structured outputs); one that cannot ignores it, so the
    caller still checks the answer strictly."""

    id: str
    messages: tuple[Mapping[str, str], ...] | None = None
    prompt: str | None = None
    choices: tuple[str, ...] | None = None

    def __post_init__(self):
        if (self.messages is None) == (self.prompt is None):
            raise ValueError(f"request {self.id!r}: give messages or prompt, exactly one")
        if self.choices is not None:
            choices = tuple(self.choices)
            if not choices or not all(isinstance(c, str) and c for c in choices) or len(set(choices)) < len(choices):
                raise ValueError(f"request {self.id!r}: choices must be distinct non-empty strings; got {choices!r}")
            object.__setattr__(self, "choices", choices)
        if self.messages is not None:
            msgs = tuple(dict(m) for m in self.messages)
            for m in msgs:
                if set(m) != {"role", "content"} or m["role"] not in ROLES or not isinstance(m["content"], str):
                    raise ValueError(f"request {self.id!r}: a message is {{role, content}} with role in "
                                     f"{', '.join(ROLES)}; got {m!r}")
            if not msgs:
                raise ValueError(f"request {self.id!r}: no message")
            object.__setattr__(self, "messages", msgs)
        elif not isinstance(self.prompt, str):
            raise ValueError(f"request {self.id!r}: prompt must be a string")

    @classmethod
    def user(cls, id: str, content: str, system: str | None = None, choices: Sequence[str] | None = None) -> Request:
        """A one-turn chat (the common case for instruct models)."""
        msgs = ({"role": "system", "content": system},) if system is not None else ()
        return cls(id, messages=(*msgs, {"role": "user", "content": content}),
                   choices=tuple(choices) if choices is not None else None)

    @property
    def kind(self) -> str:
        return "chat" if self.messages is not None else "completion"

    def payload(self) -> dict[str, Any]:
        """What the answer depends on: the messages or the prompt, and the choices (not the id)."""
        out: dict[str, Any] = ({"messages": [dict(m) for m in self.messages]} if self.messages is not None
                               else {"prompt": self.prompt})
        if self.choices is not None:
            out["choices"] = list(self.choices)
        return out

    def text(self) -> str:
        """The request as one string: the prompt, a lone user message's content, else canonical JSON."""
        if self.prompt is not None:
            return self.prompt
        if len(self.messages) == 1 and self.messages[0]["role"] == "user":
            return self.messages[0]["content"]
        return json.dumps(self.payload()["messages"], ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Completion:
    """One answer. `reasoning` is the model's thinking where the backend gives it apart
    (`reasoning_content`, gpt-oss's analysis channel, a leading <think> block), else None.
    Token counts are None where the backend does not report them. A failed request has `error`
    (the last one, after `attempts` tries) and empty text; `cached` says it came from the cache."""

    id: str
    text: str = ""
    reasoning: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None
    attempts: int = 1
    cached: bool = False

    @classmethod
    def failed(cls, id: str, error: str, attempts: int = 1) -> Completion:
        return cls(id, error=error, attempts=attempts, finish_reason="error")

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def has_reasoning(self) -> bool:
        return bool(self.reasoning and self.reasoning.strip())

    def rendered(self) -> str:
        """The text as the released data shows it: `<think>reasoning</think>` before the answer."""
        if not self.has_reasoning:
            return self.text
        return f"<think>\n{self.reasoning.strip()}\n</think>\n{self.text.lstrip()}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Completion:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Failure:
    """A ledger entry: a request that failed after its retries."""

    id: str
    error: str
    attempts: int


def failures(completions: Iterable[Completion]) -> list[Failure]:
    """The failure ledger of a batch: every failed completion's id, error and attempts."""
    return [Failure(c.id, c.error, c.attempts) for c in completions if c.error is not None]


@dataclass(frozen=True)
class GenerationParams:
    """Sampling parameters; backends ignore what they cannot honour and say so in their docs."""

    max_tokens: int = 2048
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = 0
    stop: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_pairs(cls, pairs: Sequence[str]) -> GenerationParams:
        """From `key=value` strings (the CLI's --param); unknown keys go to `extra`."""
        known = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for pair in pairs:
            key, eq, raw = pair.partition("=")
            if not eq or not key:
                raise ValueError(f"parameter {pair!r} is not key=value")
            value = _parse_value(raw)
            if key == "stop":
                values[key] = tuple(value) if isinstance(value, list) else (str(value),)
            elif key in known and key != "extra":
                values[key] = value
            else:
                extra[key] = value
        return cls(**values, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stop": list(self.stop)}


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """`key=value` strings -> factory options (values read as JSON when they parse)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        if not eq or not key:
            raise ValueError(f"option {pair!r} is not key=value")
        out[key.replace("-", "_")] = _parse_value(raw)
    return out


@runtime_checkable
class Generator(Protocol):
    """What every LLM backend implements. `name` is the registered backend name and `model` what
    it runs: with the params and a request they decide the answer (the cache's key)."""

    name: str
    model: str

    def generate(self, requests: Sequence[Request], params: GenerationParams) -> list[Completion]:
        """One completion per request, in the requests' order; a failed one has `error` set."""
        ...


def prompt_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
