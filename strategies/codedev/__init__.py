"""CodeDev: developer tasks grounded on a seed file, the code of each answer parsed and run.

Tasks (`prompts/<task>.txt`): add a feature, refactor, write tests, fix a planted bug (one
operator or number changed so the output changes, as CodeQA's find_bug), document, review.
Each (seed, task) is one row. The code blocks of the answer are parsed with the seed's
tree-sitter grammar (`answer_blocks_parse`, one flag per block in the seed's language), and
where the seed runs to its end under the tracer, the answer's program (its longest block) is
traced too:

- refactor, document, fix_bug: it must print the same stdout and exit as the seed does;
- add_feature: it must run to its end and exit as the seed does;
- write_tests: the tests are appended to the seed and the whole must exit 0;
- review: nothing to run (`verified` null).

`verified` (true, false, null) and `verification` (why) are in every row. With
`--placeholders`, the seed in the prompt of the row's text is `{{{REPLACE_WITH_BLOB_ID_SOURCE}}}`
(the public release's form: the source of the row's `blob_id` goes there), while the model
saw the file itself; fix_bug rows keep the planted program, which is not the seed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...tracer import rows
from ...tracer.contracts import Input, option, prompt_version
from ...tracer.generators import Request
from ...tracer.verify import Run, code_blocks, plant_bug
from .._llm import DECONTAMINATE_HELP, CheckedStrategy, ask, blocks_parse, code_vars, fence_names, unusable

PROMPTS = Path(__file__).with_name("prompts")
NAME = "codedev"
TASKS = ("add_feature", "refactor", "write_tests", "fix_bug", "document", "review")
PLACEHOLDER = "{{{REPLACE_WITH_BLOB_ID_SOURCE}}}"
#: how each task's answer is checked
CHECKS = {"add_feature": "runs", "refactor": "same", "document": "same", "fix_bug": "same",
          "write_tests": "tests", "review": None}


@dataclass(frozen=True)
class Options:
    tasks: tuple[str, ...] = option(TASKS, "Developer tasks, comma-separated.")
    placeholders: bool = option(False, f"Put {PLACEHOLDER} in the rows' text where the seed was.")
    max_source_lines: int = option(200, "Leave out longer seed files.")
    decontaminate: tuple[Path, ...] = option((), DECONTAMINATE_HELP)


@dataclass
class _Task:
    inp: Input
    task: str
    prompt: str          # what the model saw
    shown: str           # the prompt as the row shows it (the placeholder where the seed was)
    reference: Run


class CodeDev(CheckedStrategy):
    """Developer tasks on a seed file (feature, refactor, tests, bug fix, docs, review), the answers' code run."""

    name = NAME
    prompt_dir = PROMPTS
    Options = Options
    consumes = ("sources", "traces")
    uses_generator = True
    prompt_version = prompt_version(PROMPTS, NAME)

    def __init__(self, tasks: Sequence[str] = TASKS, placeholders: bool = False, max_source_lines: int = 200,
                 decontaminate: Sequence[Path] = ()):
        unknown = sorted(set(tasks) - set(TASKS))
        if unknown or not tasks:
            raise ValueError(f"unknown task(s) {', '.join(unknown) or '(none given)'} (known: {', '.join(TASKS)})")
        self.options = Options(tuple(tasks), placeholders, max_source_lines, tuple(decontaminate))
        self._start(decontaminate)

    def process(self, batch: Sequence[Input]) -> Iterator[dict]:
        tasks: list[_Task] = []
        for inp in batch:
            if (why := unusable(inp, self.options.max_source_lines, self.contamination)) is not None:
                yield self._fail(inp, None, *why)
            else:
                for task in self.options.tasks:
                    t = self._task(inp, task)
                    if isinstance(t, str):
                        yield self._fail(inp, task, "skipped", t)
                    else:
                        tasks.append(t)
        answers = ask(self.generator, [Request.user(f"{t.inp.id}#{t.task}", t.prompt) for t in tasks], self.params)
        for t, c in zip(tasks, answers, strict=True):
            if c.error is not None:
                yield self._fail(t.inp, t.task, "generation_error", c.error, raw_output=c.text)
                continue
            parses = blocks_parse(t.inp.language, c.text)
            verified, why = self._check(t, c.text)
            yield rows.row(t.inp, self, self.generator, rows.turn_text(t.shown, c.rendered()),
                           has_reasoning=c.has_reasoning, raw_output=c.text, task=t.task,
                           answer_code_blocks=len(code_blocks(c.text)), answer_blocks_parse=parses,
                           verified=verified, verification=why, placeholders=self.options.placeholders)

    def _fail(self, inp: Input, task: str | None, status: str, reason: str, **extra: Any) -> dict:
        return rows.failure(inp, self, self.generator, status, reason, task=task, verified=None, verification=None,
                            placeholders=self.options.placeholders, **extra)

    def _task(self, inp: Input, task: str) -> _Task | str:
        seed = self.runner.seed(inp)
        template = self.prompts[task]
        if task == "fix_bug":
            if not seed.comparable:
                return f"no bug to plant: the seed {seed.why_not()}"
            buggy = plant_bug(inp.code, inp.language, self.runner, seed, inp.id)
            if buggy is None:
                return "no one-token change of the seed changes what it prints"
            prompt = template.substitute(**code_vars(inp, buggy), expected=seed.stdout.rstrip("\n")).strip()
            return _Task(inp, task, prompt, prompt, seed)
        prompt = template.substitute(**code_vars(inp)).strip()
        shown = (template.substitute(**{**code_vars(inp), "code": PLACEHOLDER}).strip()
                 if self.options.placeholders else prompt)
        return _Task(inp, task, prompt, shown, seed)

    def _check(self, t: _Task, answer: str) -> tuple[bool | None, str]:
        kind = CHECKS[t.task]
        if kind is None:
            return None, "not checkable by running: a review"
        if not t.reference.comparable:
            return None, f"not run: the seed {t.reference.why_not()}"
        blocks = [code for fence, code in code_blocks(answer) if fence in fence_names(t.inp.language)]
        if not blocks:
            return False, "no code block in the seed's language in the answer"
        code = max(blocks, key=len)
        if kind == "tests":
            if t.reference.exit_code != 0:
                return None, "not run: the seed itself does not exit 0, so appended tests cannot pass"
            code = t.inp.code.rstrip("\n") + "\n\n" + code
        got = self.runner.run(code, t.inp.language)
        if not got.comparable:
            return False, f"the answer's program {got.why_not()}"
        if kind == "same":
            return got.same_as(t.reference)
        if kind == "tests":
            return (True, "the seed with the tests appended exits 0") if got.exit_code == 0 else (
                False, f"the seed with the tests appended exits {got.exit_code}")
        return (True, "runs to its end with the seed's exit code") if got.exit_code == t.reference.exit_code else (
            False, f"exits {got.exit_code}, the seed {t.reference.exit_code}")
