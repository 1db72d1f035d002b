"""The Generator interface (LLM backends), in one typed module, and the built-in `file` generator.

A generator turns prompts into completions: `generate(prompts, params) -> completions`, one
completion per prompt, in order. Backends (vllm, openai, llamacpp) are plugins registered with
`register_generators(register)`: `register(name, factory)`, where `factory(**options)`
returns a Generator. `file` replays completions that were made elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


class GeneratorError(RuntimeError):
    """A generator that cannot produce what it was asked for (the message says why)."""


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
    """What every LLM backend implements."""

    def generate(self, prompts: Sequence[str], params: GenerationParams) -> list[str]:
        """One completion per prompt, in the prompts' order."""
        ...


def prompt_sha256(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


COMPLETION_KEYS = ("completion", "prediction", "response", "text")


class FileGenerator:
    """Completions read from a JSON-lines file, matched to prompts by their text.

    Each row has `prompt` (the exact prompt text) or `prompt_sha256` (its sha256), and the
    completion under `completion` (or `prediction`, `response`, `text`). A prompt without a
    row is an error, unless `missing="empty"`, which answers it with "".
    """

    def __init__(self, path: str | Path | None = None, missing: str = "error"):
        if path is None:
            raise GeneratorError("the file generator needs a path (e.g. --option path=completions.jsonl)")
        if missing not in ("error", "empty"):
            raise GeneratorError(f"missing={missing!r}: use error or empty")
        self.path, self.missing = Path(path), missing
        self._by_hash: dict[str, str] = {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as e:
            raise GeneratorError(f"cannot read {self.path}: {e.strerror or e}") from None
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise GeneratorError(f"{self.path}:{n}: not a JSON object") from None
            key = row.get("prompt_sha256") or (prompt_sha256(row["prompt"]) if isinstance(row.get("prompt"), str)
                                               else None)
            completion = next((row[k] for k in COMPLETION_KEYS if isinstance(row.get(k), str)), None)
            if key is None or completion is None:
                raise GeneratorError(f"{self.path}:{n}: needs prompt (or prompt_sha256) and completion")
            self._by_hash[key] = completion

    def generate(self, prompts: Sequence[str], params: GenerationParams) -> list[str]:
        out = []
        for i, prompt in enumerate(prompts):
            completion = self._by_hash.get(prompt_sha256(prompt))
            if completion is None:
                if self.missing == "error":
                    raise GeneratorError(f"{self.path} has no completion for prompt {i} "
                                         f"(sha256 {prompt_sha256(prompt)[:12]}…)")
                completion = ""
            out.append(completion)
        return out
