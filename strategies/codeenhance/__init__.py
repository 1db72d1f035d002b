"""CodeEnhance: quality-aware rewriting of a seed file, verified by running the rewrite.

Per seed: the model rates the file with a rubric (`prompts/rate.txt`, SwallowCode-v2's style:
the score is the last `Rating: [[X]]`, 0-10, parsed strictly; the request carries the eleven
rating lines as its choices, so a generator that constrains decoding gets one even from a
tiny model, and the others' answers are parsed as they are), rewrites it in passes (style-
guided, then optimizing: `prompts/rewrite_<pass>.txt`, each on the previous pass's code), and
rates the rewrite. Then the rewrite is checked: it must parse (tree-sitter; the seed's own
flag is `raw_has_syntax_error_tree_sitter`), and where the seed runs to its end under the
tracer, the rewrite is traced too and must print the same stdout and exit with the same code.

A row keeps `raw`, `rewritten`, both syntax flags, `raw_quality`, `rewritten_quality`,
`verified` (true, false, or null when the seed cannot be run) and `verification` (why). Its
text is the last rewrite request and the rewrite, in the released form. A rating that does not
parse is an `unparsed_rating` row (the model's output kept), an answer without code a
`no_code` row, a rewrite that does not parse or behaves differently a `verification_failed`
row with every column; a failed model call a `generation_error` row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...tracer import rows
from ...tracer.contracts import Input, option, prompt_version
from ...tracer.generators import Request
from ...tracer.verify import code_blocks, has_syntax_error
from .._llm import DECONTAMINATE_HELP, CheckedStrategy, ask, code_vars, fenced, unusable

PROMPTS = Path(__file__).with_name("prompts")
NAME = "codeenhance"
PASSES = ("style", "optimize")
RATING = re.compile(r"Rating:\s*\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")
MAX_RATING = 10.0
RATINGS = tuple(f"Rating: [[{n}]]" for n in range(int(MAX_RATING) + 1))


def parse_rating(text: str) -> float | None:
    """The score of the last `Rating: [[X]]` in `text`, None when there is none or it is out of 0-10."""
    found = RATING.findall(text or "")
    if not found:
        return None
    score = float(found[-1])
    return score if 0 <= score <= MAX_RATING else None


@dataclass(frozen=True)
class Options:
    passes: tuple[str, ...] = option(PASSES, "Rewrite passes, in order (style, optimize).")
    max_source_lines: int = option(200, "Leave out longer seed files.")
    decontaminate: tuple[Path, ...] = option((), DECONTAMINATE_HELP)


@dataclass
class _Seed:
    inp: Input
    code: str                                      # the current rewrite (the seed at first)
    cols: dict = field(default_factory=dict)
    prompt: str = ""                               # the last rewrite request
    answer: Any = None                             # its completion
    failed: dict | None = None


class CodeEnhance(CheckedStrategy):
    """Rate a seed with an LLM rubric, rewrite it (style, optimize), verify the rewrite parses and behaves the same."""

    name = NAME
    prompt_dir = PROMPTS
    Options = Options
    consumes = ("sources", "traces")
    uses_generator = True
    prompt_version = prompt_version(PROMPTS, NAME)

    def __init__(self, passes: Sequence[str] = PASSES, max_source_lines: int = 200, decontaminate: Sequence[Path] = ()):
        unknown = sorted(set(passes) - set(PASSES))
        if unknown or not passes:
            raise ValueError(f"unknown pass(es) {', '.join(unknown) or '(none given)'} (known: {', '.join(PASSES)})")
        self.options = Options(tuple(passes), max_source_lines, tuple(decontaminate))
        self._start(decontaminate)

    def process(self, batch: Sequence[Input]) -> Iterator[dict]:
        seeds = []
        for inp in batch:
            if (why := unusable(inp, self.options.max_source_lines, self.contamination)) is not None:
                yield rows.failure(inp, self, self.generator, *why)
            else:
                seeds.append(_Seed(inp, inp.code, {"raw": inp.code, "raw_has_syntax_error_tree_sitter":
                                                   has_syntax_error(inp.code, inp.language)}))
        self._rate(seeds, "raw_quality")
        for name in self.options.passes:
            live = [s for s in seeds if s.failed is None]
            requests = []
            for s in live:
                s.prompt = self.prompts[f"rewrite_{name}"].substitute(**code_vars(s.inp, s.code)).strip()
                requests.append(Request.user(f"{s.inp.id}#{name}", s.prompt))
            for s, c in zip(live, ask(self.generator, requests, self.params), strict=True):
                s.answer = c
                blocks = code_blocks(c.text)
                if c.error is not None:
                    self._fail(s, "generation_error", f"{name} pass: {c.error}", c.text)
                elif not blocks:
                    self._fail(s, "no_code", f"the {name} pass gave no code block", c.text)
                else:
                    s.code = max((code for _, code in blocks), key=len)
                    s.cols[f"{name}_output"] = c.text
        for s in seeds:
            if s.failed is None:
                s.cols["rewritten"] = s.code
        self._rate(seeds, "rewritten_quality")
        for s in seeds:
            yield s.failed if s.failed is not None else self._verified(s)

    def _rate(self, seeds: list[_Seed], column: str) -> None:
        live = [s for s in seeds if s.failed is None]
        requests = [Request.user(f"{s.inp.id}#{column}",
                                 self.prompts["rate"].substitute(**code_vars(s.inp, s.code)).strip(), choices=RATINGS)
                    for s in live]
        for s, c in zip(live, ask(self.generator, requests, self.params), strict=True):
            score = parse_rating(c.text)
            s.cols[f"{column}_output"] = c.text
            if c.error is not None:
                self._fail(s, "generation_error", f"{column}: {c.error}", c.text)
            elif score is None:
                self._fail(s, "unparsed_rating", f"{column}: no 'Rating: [[X]]' with X in 0-{MAX_RATING:g} "
                                                 "in the model's rating", c.text)
            else:
                s.cols[column] = score

    def _fail(self, s: _Seed, status: str, reason: str, raw: str) -> None:
        s.failed = rows.failure(s.inp, self, self.generator, status, reason, raw_output=raw, **self._columns(s))

    def _columns(self, s: _Seed, **more: Any) -> dict:
        base = {"raw": None, "rewritten": None, "raw_has_syntax_error_tree_sitter": None,
                "rewritten_has_syntax_error_tree_sitter": None, "raw_quality": None, "rewritten_quality": None,
                "verified": None, "verification": None, "passes": list(self.options.passes)}
        return {**base, **s.cols, **more}

    def _verified(self, s: _Seed) -> dict:
        """The row of a finished rewrite: ok when it parses and, where the seed runs, behaves the same."""
        lang = s.inp.language
        bad_syntax = has_syntax_error(s.code, lang)
        s.cols["rewritten_has_syntax_error_tree_sitter"] = bad_syntax
        verified, why = None, "not run: the seed's language has no grammar here" if bad_syntax is None else ""
        if bad_syntax and not s.cols["raw_has_syntax_error_tree_sitter"]:
            verified, why = False, "the rewrite does not parse (tree-sitter), the seed does"
        elif bad_syntax is not None:
            seed = self.runner.seed(s.inp)
            if not seed.comparable:
                why = f"not run: the seed {seed.why_not()}"
            else:
                got = self.runner.run(s.code, lang)
                verified, why = (False, f"the rewrite {got.why_not()}") if not got.comparable else got.same_as(seed)
        cols = self._columns(s, verified=verified, verification=why)
        if verified is False:
            return rows.failure(s.inp, self, self.generator, "verification_failed", why,
                                raw_output=s.answer.text, **cols)
        text = rows.turn_text(s.prompt, self._response(s))
        return rows.row(s.inp, self, self.generator, text, has_reasoning=s.answer.has_reasoning,
                        raw_output=s.answer.text, **cols)

    def _response(self, s: _Seed) -> str:
        body = fenced(s.code, s.inp.language or "")
        return f"<think>\n{s.answer.reasoning.strip()}\n</think>\n{body}" if s.answer.has_reasoning else body
