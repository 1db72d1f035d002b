"""CodeDialogue: multi-turn conversations about a seed source file (one of the paper's strategies).

Two roles, both played by the generator: a simulated developer who asks about the file, and the
assistant who answers. Each turn is two model calls (the question, then the answer), sent for
the whole batch at once. The first question carries the file itself (`prompts/opening.txt`), so
a row is self-contained and is exactly what the assistant saw: `User:\\n<question + code>
\\n\\nAssistant:\\n<answer>\\n\\nUser:\\n<question>...`, with `<think>` blocks where the model
reasoned. The prompts are the files in `prompts/`; their hash is the rows' prompt_version.
The answers' code is checked: `answer_blocks_parse` has, per code block in the seed's language,
whether tree-sitter parses it; `verified` is true when all do, false when one does not, null
when there is none (`verification` says which).

A conversation whose model call fails, or whose simulated user says nothing, is a failure row
(`generation_error`, `empty_turn`) that keeps the turns so far as its raw output; a seed longer
than `max_source_lines` or without text is a `skipped` row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from string import Template
from typing import Any

from ...tracer import rows
from ...tracer.contracts import Input, option, prompt_version
from ...tracer.generators import GenerationParams, Request
from .._llm import blocks_parse, code_vars, load_prompts

PROMPTS = Path(__file__).with_name("prompts")
NAME = "codedialogue"


@dataclass(frozen=True)
class Options:
    turns: int = option(2, "Question/answer turns per conversation.")
    max_source_lines: int = option(200, "Leave out longer seed files.")
    question_tokens: int = option(96, "At most this many tokens for each simulated question.")


@dataclass
class _Talk:
    """One conversation in progress."""

    inp: Input
    turns: list[tuple[str, str, str]]   # (user, answer as released, with <think>; answer text)
    has_reasoning: bool = False
    failed: dict | None = None


class CodeDialogue:
    """Multi-turn conversations grounded on a seed file: a simulated developer asks, the model answers."""

    name = NAME
    Options = Options
    consumes = ("sources", "traces")
    uses_generator = True
    prompt_version = prompt_version(PROMPTS, NAME)

    def __init__(self, turns: int = 2, max_source_lines: int = 200, question_tokens: int = 96):
        if turns < 1:
            raise ValueError("turns must be at least 1")
        if question_tokens < 1:
            raise ValueError("question_tokens must be at least 1")
        self.options = Options(turns, max_source_lines, question_tokens)
        self.generator: Any = None
        self.params = GenerationParams()
        self.prompts: dict[str, Template] = {}

    def load(self, generator: Any, params: GenerationParams | None) -> None:
        if generator is None:
            raise ValueError("codedialogue needs a generator")
        self.generator, self.params = generator, params or GenerationParams()
        self.prompts = load_prompts(PROMPTS)

    def unload(self) -> None:
        self.generator, self.prompts = None, {}

    def process(self, batch: Sequence[Input]) -> Iterator[dict]:
        talks = []
        for inp in batch:
            if inp.code is None:
                yield rows.failure(inp, self, self.generator, "skipped", f"no program text: {inp.code_error}")
            elif len(inp.code.splitlines()) > self.options.max_source_lines:
                yield rows.failure(inp, self, self.generator, "skipped",
                                   f"more than {self.options.max_source_lines} source lines")
            else:
                talks.append(_Talk(inp, []))
        question_params = replace(self.params, max_tokens=min(self.params.max_tokens, self.options.question_tokens))
        for n in range(self.options.turns):
            live = [t for t in talks if t.failed is None]
            if not live:
                break
            questions = self._ask(live, [self._question_request(t, n) for t in live], question_params)
            asked = []
            for t, c in zip(live, questions, strict=True):
                if t.failed is None and not c.text.strip():
                    self._fail(t, "empty_turn", f"the simulated user said nothing at turn {n + 1}", c.text)
                elif t.failed is None:
                    asked.append((t, c.text.strip()))
            if not asked:
                break
            answers = self._ask([t for t, _ in asked], [self._answer_request(t, q, n) for t, q in asked], self.params)
            for (t, q), c in zip(asked, answers, strict=True):
                if t.failed is None:
                    t.turns.append((self._opening(t.inp, q) if n == 0 else q, c.rendered(), c.text))
                    t.has_reasoning = t.has_reasoning or c.has_reasoning
        for t in talks:
            if t.failed is not None:
                yield t.failed
            else:
                parses = [ok for _, _, a in t.turns for ok in blocks_parse(t.inp.language, a)]
                verified, why = _verdict(parses)
                yield rows.row(t.inp, self, self.generator, rows.dialogue_text([(u, a) for u, a, _ in t.turns]),
                               has_reasoning=t.has_reasoning, turns=len(t.turns), answer_blocks_parse=parses,
                               verified=verified, verification=why,
                               raw_output=json.dumps([a for _, _, a in t.turns], ensure_ascii=False))

    # --- the model calls -----------------------------------------------------------------------

    def _ask(self, talks: list[_Talk], requests: list[Request], params: GenerationParams) -> list:
        """One generate() call for the batch; a failed completion fails its conversation."""
        completions = self.generator.generate(requests, params)
        for t, c in zip(talks, completions, strict=True):
            if c.error is not None:
                self._fail(t, "generation_error", c.error, c.text)
        return completions

    def _fail(self, t: _Talk, status: str, reason: str, raw: str) -> None:
        t.failed = rows.failure(t.inp, self, self.generator, status, reason, turns=len(t.turns),
                                answer_blocks_parse=None, verified=None, verification=None,
                                raw_output=json.dumps({"answers": [a for _, _, a in t.turns], "last_output": raw},
                                                      ensure_ascii=False))

    def _opening(self, inp: Input, question: str) -> str:
        return self.prompts["opening"].substitute(question=question, **code_vars(inp)).strip()

    def _question_request(self, t: _Talk, n: int) -> Request:
        system = self.prompts["user_system"].substitute(**code_vars(t.inp)).strip()
        if n == 0:
            ask = self.prompts["user_first"].substitute().strip()
        else:
            transcript = "\n\n".join(f"Developer: {q if i else self._first_question(t)}\n\nAssistant: {a}"
                                     for i, (q, _, a) in enumerate(t.turns))
            ask = self.prompts["user_next"].substitute(transcript=transcript).strip()
        return Request.user(f"{t.inp.id}#q{n}", ask, system=system)

    def _first_question(self, t: _Talk) -> str:
        """The first question without the code the opening added (the simulated user has the file already)."""
        return t.turns[0][0].split("\n\n```", 1)[0]

    def _answer_request(self, t: _Talk, question: str, n: int) -> Request:
        messages = []
        for user, _, assistant in t.turns:
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        messages.append({"role": "user", "content": self._opening(t.inp, question) if n == 0 else question})
        return Request(f"{t.inp.id}#a{n}", messages=tuple(messages))


def _verdict(parses: list[bool | None]) -> tuple[bool | None, str]:
    """The conversation's check: every code block in the seed's language that the answers hold parses."""
    if not parses:
        return None, "no code block in the seed's language in the answers"
    if None in parses:
        return None, "the seed's language has no grammar here"
    bad = parses.count(False)
    return (True, f"all {len(parses)} code blocks parse") if not bad else (
        False, f"{bad} of {len(parses)} code blocks do not parse (tree-sitter)")
