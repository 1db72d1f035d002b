"""What the LLM strategies share: CodeQA's, CodeEnhance's and CodeDev's life cycle (a generator,
prompt files, a runner for checking code), prompt files as templates, the code variables a
prompt is filled with, one generate() call for a batch of requests, and which code blocks of
an answer are in the seed's language and parse."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from string import Template
from typing import Any

from ..tracer import plugins
from ..tracer.contracts import Input
from ..tracer.dedup import Contamination
from ..tracer.generators import Completion, GenerationParams, GeneratorError, Request
from ..tracer.render_text import language_name
from ..tracer.verify import Runner, code_blocks, has_syntax_error


class CheckedStrategy:
    """A strategy that asks a model and checks its answers by running code; subclasses set
    `name` and `prompt_dir`."""

    name: str
    prompt_dir: Path

    def _start(self, decontaminate: Sequence[Path]) -> None:
        self.contamination = contamination(decontaminate)
        self.generator: Any = None
        self.params = GenerationParams()
        self.prompts: dict[str, Template] = {}
        self.runner = Runner()

    def load(self, generator: Any, params: GenerationParams | None) -> None:
        if generator is None:
            raise ValueError(f"{self.name} needs a generator")
        self.generator, self.params = generator, params or GenerationParams()
        self.prompts = load_prompts(self.prompt_dir)

    def unload(self) -> None:
        self.runner.close()
        self.generator, self.prompts = None, {}


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


DECONTAMINATE_HELP = "Benchmark tasks (.jsonl) or programs (file, folder) whose seeds become contaminated rows."


def contamination(paths: Sequence[str | Path]) -> Contamination | None:
    """The index of `--decontaminate` references (a missing one is a ValueError, at option check)."""
    return Contamination.of(paths) if paths else None


def unusable(inp: Input, max_source_lines: int, index: Contamination | None) -> tuple[str, str] | None:
    """(status, reason) when a seed is not used: no text, too long, or overlapping a benchmark."""
    if inp.code is None:
        return "skipped", f"no program text: {inp.code_error}"
    if len(inp.code.splitlines()) > max_source_lines:
        return "skipped", f"more than {max_source_lines} source lines"
    why = index.overlap(inp.code, inp.sha256) if index is not None else None
    return ("contaminated", why) if why else None


def fence_names(language: str | None) -> set[str]:
    """Fence names that mean the seed's language: none, its id, aliases and extensions."""
    names = {"", language or ""}
    try:
        lang = plugins.languages().get(language)
    except LookupError:
        return names
    return names | {a.lower() for a in lang.aliases} | {e.lstrip(".").lower() for e in lang.extensions}


def blocks_parse(language: str | None, answer: str) -> list[bool | None]:
    """Per code block of `answer` in the seed's language (an unnamed fence counts): does it parse
    (None where the language has no grammar here)."""
    names = fence_names(language)
    return [None if (bad := has_syntax_error(code, language)) is None else not bad
            for fence, code in code_blocks(answer) if fence in names]
