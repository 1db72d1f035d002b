"""CodeQA: template-based questions about a seed program, answers checked by running it.

Each template of `prompts/` is one kind of question: what does this print (`print`), what does
f(x) return (`returns`), fill in the missing line (`missing_line`), find the bug (`find_bug`),
explain (`explain`), write the function from its description (`write_function`). Where the
answer can be checked by running, it is: the seed is traced on the local backend (a dump's
trace is used as it is) and

- `print`: the model's output (its first code block, else its text) against the real stdout;
- `returns`: the value against the return value the trace recorded for that call;
- `missing_line`: the seed with the model's line put back is run, same stdout and exit code;
- `find_bug`: a bug is planted (one operator or number changed, kept only if it changes the
  output) and the model's corrected program must print what the seed prints;
- `explain`, `write_function`: not checkable by running (`verified` null; `write_function`
  records whether the answer parses).

Every row keeps `verified` (true, false or null), `verification` (why), `template` and
`expected`. A template that cannot be made for a seed (no traced call, no bug that shows) is a
`skipped` row saying so; a failed model call a `generation_error` row.

Languages: the paper's CodeQA has 7. These are the 7 whose runtimes are the strongest here,
by the instrumenters' maturity: Python, JavaScript and C (stable), Ruby, PHP, Bash and SQL
(beta); others are `skipped` rows unless `--languages` names them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...tracer import rows
from ...tracer.contracts import Input, option, prompt_version
from ...tracer.generators import Request
from ...tracer.verify import Run, code_blocks, first_code, has_syntax_error, plant_bug
from .._llm import DECONTAMINATE_HELP, CheckedStrategy, ask, code_vars, unusable

PROMPTS = Path(__file__).with_name("prompts")
NAME = "codeqa"
TEMPLATES = ("print", "returns", "missing_line", "find_bug", "explain", "write_function")
LANGUAGES = ("python", "javascript", "c", "ruby", "php", "bash", "sql")
MARKER = "<missing line>"


@dataclass(frozen=True)
class Options:
    templates: tuple[str, ...] = option(TEMPLATES, "Question templates, comma-separated.")
    languages: tuple[str, ...] = option(LANGUAGES, "Seed languages to ask about (others are skipped rows).")
    max_source_lines: int = option(200, "Leave out longer seed files.")
    decontaminate: tuple[Path, ...] = option((), DECONTAMINATE_HELP)


@dataclass
class _Question:
    inp: Input
    template: str
    prompt: str
    expected: str | None = None
    check: Any = None          # how to check the answer: a function (answer text) -> (verified, why)
    unchecked: str = ""        # why it is not checked, when check is None


class CodeQA(CheckedStrategy):
    """Template-based questions about a seed program; answers checked by running where they can be."""

    name = NAME
    prompt_dir = PROMPTS
    Options = Options
    consumes = ("sources", "traces")
    uses_generator = True
    prompt_version = prompt_version(PROMPTS, NAME)

    def __init__(self, templates: Sequence[str] = TEMPLATES, languages: Sequence[str] = LANGUAGES,
                 max_source_lines: int = 200, decontaminate: Sequence[Path] = ()):
        unknown = sorted(set(templates) - set(TEMPLATES))
        if unknown or not templates:
            raise ValueError(f"unknown template(s) {', '.join(unknown) or '(none given)'} "
                             f"(known: {', '.join(TEMPLATES)})")
        self.options = Options(tuple(templates), tuple(languages), max_source_lines, tuple(decontaminate))
        self._start(decontaminate)

    def process(self, batch: Sequence[Input]) -> Iterator[dict]:
        questions: list[_Question] = []
        for inp in batch:
            if (why := unusable(inp, self.options.max_source_lines, self.contamination)) is not None:
                yield self._fail(inp, None, *why)
            elif inp.language not in self.options.languages:
                yield self._fail(inp, None, "skipped", f"language {inp.language} is not one of codeqa's "
                                                      f"({', '.join(self.options.languages)})")
            else:
                for template in self.options.templates:
                    q = getattr(self, f"_q_{template}")(inp)
                    if isinstance(q, str):
                        yield self._fail(inp, template, "skipped", q)
                    else:
                        questions.append(q)
        answers = ask(self.generator, [Request.user(f"{q.inp.id}#{q.template}", q.prompt) for q in questions],
                      self.params)
        for q, c in zip(questions, answers, strict=True):
            if c.error is not None:
                yield self._fail(q.inp, q.template, "generation_error", c.error, raw_output=c.text,
                                 expected=q.expected)
                continue
            verified, why = q.check(c.text) if q.check else (None, q.unchecked)
            yield rows.row(q.inp, self, self.generator, rows.turn_text(q.prompt, c.rendered()),
                           has_reasoning=c.has_reasoning, raw_output=c.text, template=q.template,
                           expected=q.expected, verified=verified, verification=why)

    def _fail(self, inp: Input, template: str | None, status: str, reason: str, **extra: Any) -> dict:
        return rows.failure(inp, self, self.generator, status, reason, template=template,
                            verified=None, verification=None, **{"expected": None, **extra})

    def _prompt(self, template: str, inp: Input, code: str | None = None, **more: str) -> str:
        return self.prompts[template].substitute(**code_vars(inp, code), **more).strip()

    def _seed_run(self, inp: Input) -> Run:
        return self.runner.seed(inp)

    # --- the templates: each gives a question, or why it cannot be asked about this seed ---------

    def _q_print(self, inp: Input) -> _Question | str:
        run = self._seed_run(inp)
        q = _Question(inp, "print", self._prompt("print", inp))
        if not run.comparable:
            q.unchecked = f"not checked: the seed {run.why_not()}"
        else:
            q.expected, q.check = run.stdout, lambda answer: _same_output(answer, run.stdout)
        return q

    def _q_returns(self, inp: Input) -> _Question | str:
        calls = _calls(self._seed_run(inp).records)
        if not calls:
            return "no function call with a return value in the seed's trace"
        func, args, value = calls[0]
        call = f"{func}({', '.join(args.values())})"
        q = _Question(inp, "returns", self._prompt("returns", inp, call=call), expected=value)
        q.check = lambda answer: _same_value(answer, value)
        return q

    def _q_missing_line(self, inp: Input) -> _Question | str:
        lines = inp.code.splitlines(keepends=True)
        n = _pick_line(lines, inp.id)
        if n is None:
            return "no line to leave out"
        indent = re.match(r"[ \t]*", lines[n]).group()
        gapped = "".join(lines[:n]) + indent + MARKER + "\n" + "".join(lines[n + 1:])
        q = _Question(inp, "missing_line", self._prompt("missing_line", inp, gapped, marker=MARKER),
                      expected=lines[n].strip())
        run = self._seed_run(inp)
        if not run.comparable:
            q.unchecked = f"not checked: the seed {run.why_not()}"
            return q

        def check(answer: str) -> tuple[bool | None, str]:
            line = (first_code(answer) or answer).strip("\n").splitlines()
            if not line or not line[0].strip():
                return False, "no line in the answer"
            filled = "".join(lines[:n]) + indent + line[0].strip() + "\n" + "".join(lines[n + 1:])
            return self._same_run(filled, inp, run)
        q.check = check
        return q

    def _q_find_bug(self, inp: Input) -> _Question | str:
        run = self._seed_run(inp)
        if not run.comparable:
            return f"no bug to plant: the seed {run.why_not()}"
        buggy = plant_bug(inp.code, inp.language, self.runner, run, inp.id)
        if buggy is None:
            return "no one-token change of the seed changes what it prints"
        q = _Question(inp, "find_bug", self._prompt("find_bug", inp, buggy, expected=run.stdout.rstrip("\n")),
                      expected=run.stdout)

        def check(answer: str) -> tuple[bool | None, str]:
            fixed = _longest_block(answer)
            if fixed is None:
                return False, "no code block in the answer"
            return self._same_run(fixed, inp, run)
        q.check = check
        return q

    def _q_explain(self, inp: Input) -> _Question:
        return _Question(inp, "explain", self._prompt("explain", inp),
                         unchecked="not checkable by running: an explanation")

    def _q_write_function(self, inp: Input) -> _Question | str:
        calls = _calls(self._seed_run(inp).records)
        if not calls:
            return "no function call with a return value in the seed's trace to describe"
        func = calls[0][0]
        same = [c for c in calls if c[0] == func][:3]
        examples = "\n".join(f"- `{func}({', '.join(a.values())})` returns `{v}`" for _, a, v in same)
        q = _Question(inp, "write_function", self._prompt("write_function", inp, func=func,
                                                          params=", ".join(same[0][1]) or "(none)", examples=examples))

        def check(answer: str) -> tuple[bool | None, str]:
            code = first_code(answer)
            if code is None:
                return None, "not run (no harness for a lone function); no code block in the answer"
            bad = has_syntax_error(code, inp.language)
            return None, f"not run (no harness for a lone function); the answer {'does not parse' if bad else 'parses'}"
        q.check = check
        return q

    # --- running ----------------------------------------------------------------------------------

    def _same_run(self, code: str, inp: Input, reference: Run) -> tuple[bool, str]:
        got = self.runner.run(code, inp.language)
        if not got.comparable:
            return False, f"the answer's program {got.why_not()}"
        return got.same_as(reference)


def _calls(records: list[dict]) -> list[tuple[str, dict, str]]:
    """(function, args, return value) of the traced calls of named functions, in order."""
    open_calls: dict[Any, tuple[str, dict]] = {}
    out = []
    for r in records:
        if r.get("kind") == "call" and r.get("depth", 0) >= 1 and not str(r.get("func", "<")).startswith("<"):
            open_calls[r.get("frame")] = (r["func"], r.get("args") or {})
        elif r.get("kind") == "return" and r.get("frame") in open_calls:
            func, args = open_calls.pop(r["frame"])
            if r.get("value") is not None and func == r.get("func"):
                out.append((func, args, str(r["value"])))
    return out


def _pick_line(lines: list[str], key: str) -> int | None:
    """A line worth asking for (not blank, a comment or a lone bracket/keyword), chosen by the input id."""
    ok = [n for n, line in enumerate(lines)
          if len(line.strip()) > 3 and not re.fullmatch(r"[\s{}()\[\];]*|\s*(end|fi|done|else|\})\s*", line)
          and not line.lstrip().startswith(("#", "//", "--", "/*", "*"))]
    if not ok:
        return None
    return ok[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(ok)]


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).strip()


def _same_output(answer: str, stdout: str) -> tuple[bool, str]:
    said = first_code(answer)
    said = answer if said is None else said
    if _norm(said) == _norm(stdout):
        return True, "matches the seed's real stdout"
    return False, "differs from the seed's real stdout"


def _same_value(answer: str, value: str) -> tuple[bool, str]:
    said = (first_code(answer) or answer).strip().strip("`").strip()
    first = said.splitlines()[0].strip().rstrip(".") if said else ""
    if first == value or first.strip("'\"") == value.strip("'\""):
        return True, "matches the return value the trace recorded"
    return False, "differs from the return value the trace recorded"


def _longest_block(answer: str) -> str | None:
    blocks = code_blocks(answer)
    return max((code for _, code in blocks), key=len) if blocks else None
