"""An example CodeAlchemy plugin: a strategy, `explain`, a benchmark, `linecount`, and a command, `trace hello`.

`explain` asks the model to explain each source file of a corpus (or each traced program of a
dump): one row per file, in the released form, with the model's reasoning as <think> where it
gives one. Its prompt is a file beside this module; its options are a typed dataclass, which
`trace gen explain --help` lists.
"""

from dataclasses import dataclass
from pathlib import Path
from string import Template

import typer

from codealchemy.tracer import rows
from codealchemy.tracer.contracts import BuildResult, option, predict_with, prompt_version
from codealchemy.tracer.generation import inputs
from codealchemy.tracer.generators import Request
from codealchemy.tracer.hookspecs import hookimpl

PROMPTS = Path(__file__).with_name("prompts")


@dataclass(frozen=True)
class Options:
    max_lines: int = option(80, "Leave out files with more lines.")
    audience: str = option("a new team member", "Who the explanation is for.")


class Explain:
    """Explain each source file: one row per file, the model's explanation as the answer."""

    name = "explain"
    Options = Options
    consumes = ("sources", "traces")
    uses_generator = True
    prompt_version = prompt_version(PROMPTS, "explain")

    def __init__(self, max_lines: int = 80, audience: str = "a new team member"):
        if max_lines < 1:
            raise ValueError("max_lines must be at least 1")
        self.max_lines, self.audience = max_lines, audience

    def load(self, generator, params):
        self.generator, self.params = generator, params
        self.template = Template((PROMPTS / "explain.txt").read_text(encoding="utf-8"))

    def unload(self):
        self.generator = None

    def process(self, batch):
        todo = []
        for inp in batch:
            if inp.code is None or len(inp.code.splitlines()) > self.max_lines:
                yield rows.failure(inp, self, self.generator, "skipped", f"no text or over {self.max_lines} lines")
            else:
                prompt = self.template.substitute(audience=self.audience, language=inp.language or "",
                                                  code=inp.code.rstrip("\n")).strip()
                todo.append((inp, prompt))
        # one generate() call for the whole batch: the generator batches and caches
        answers = self.generator.generate([Request.user(inp.id, p) for inp, p in todo], self.params) if todo else []
        for (inp, prompt), answer in zip(todo, answers, strict=True):
            if answer.error is not None:
                yield rows.failure(inp, self, self.generator, "generation_error", answer.error)
            elif not answer.text.strip():
                yield rows.failure(inp, self, self.generator, "empty", "the model said nothing", raw_output=answer.text)
            else:
                yield rows.row(inp, self, self.generator, rows.turn_text(prompt, answer.rendered()),
                               has_reasoning=answer.has_reasoning, raw_output=answer.text)


@hookimpl
def register_strategies(register):
    register("explain", Explain)


@hookimpl
def register_commands(app: typer.Typer):
    @app.command("hello")
    def hello(name: str = "world") -> None:
        """Greet (from a plugin)."""
        print(f"hello {name} from a plugin")


@dataclass(frozen=True)
class LineCountOptions:
    max_lines: int = option(40, "Leave out files with more lines.")


class LineCount:
    """How many lines has this file? A tiny benchmark: exact match of the number."""

    name = "linecount"
    Options = LineCountOptions

    def __init__(self, max_lines: int = 40):
        self.max_lines = max_lines

    def build(self, source):
        result = BuildResult(tasks=[])
        for inp in inputs(source, ("sources",)):
            n = len(inp.code.splitlines()) if inp.code is not None else None
            if n is None or n > self.max_lines:
                result.skipped["no text or too long"] += 1
                continue
            result.available[inp.language or "?"] += 1
            prompt = f"How many lines does this file have? Answer with the number only.\n\n{inp.code}"
            result.tasks.append({"id": inp.id, "language": inp.language, "prompt": prompt, "reference": str(n)})
        return result

    def predict(self, tasks, generator, params):
        return predict_with(tasks, generator, params)

    def score(self, tasks, predictions, *, per_task=None):
        answers = {p["id"]: (p.get("prediction") or "").strip() for p in predictions}
        missing = [t["id"] for t in tasks if t["id"] not in answers]
        if missing:
            raise ValueError(f"no prediction for task id {missing[0]!r}")
        hits = [answers[t["id"]] == t["reference"] for t in tasks]
        if per_task is not None:
            per_task.extend({"id": t["id"], "exact_match": float(h)} for t, h in zip(tasks, hits, strict=True))
        return {"exact_match": sum(hits) / len(hits) if hits else 0.0, "n": len(hits)}


@hookimpl
def register_benchmarks(register):
    register("linecount", LineCount)
