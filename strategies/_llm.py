"""What CodeQA, CodeEnhance and CodeDev share: prompt files as templates, the code variables a
prompt is filled with, and one generate() call for a batch of requests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from string import Template
from typing import Any

from ..tracer.contracts import Input
from ..tracer.generators import Completion, GenerationParams, GeneratorError, Request
from ..tracer.render_text import language_name


def load_prompts(folder: Path) -> dict[str, Template]:
    return {p.stem: Template(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.txt"))}


def code_vars(inp: Input, code: str | None = None) -> dict[str, str]:
    """$language, $fence and $code (the seed's, or `code`) for a prompt about `inp`."""
    lang = inp.language or "text"
    return {"language": language_name(lang) if inp.language else "source", "fence": lang,
            "code": (inp.code if code is None else code).rstrip("\n")}


def ask(generator: Any, requests: Sequence[Request], params: GenerationParams) -> list[Completion]:
    """The completions of `requests` in order, in one call (a generator that answers a different
    number is a broken plugin, not a failure of one row)."""
    if not requests:
        return []
    got = generator.generate(list(requests), params)
    if len(got) != len(requests):
        raise GeneratorError(f"generator gave {len(got)} completions for {len(requests)} requests")
    return got


def fenced(code: str, fence: str) -> str:
    return f"```{fence}\n{code.rstrip()}\n```"
