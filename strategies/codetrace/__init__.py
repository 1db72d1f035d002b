"""CodeTrace: turn execution traces into training rows (the paper's fifth strategy).

Each trace gives rows in the paper's form, `{"text": "User:\\n<prompt>\\n\\nAssistant:\\n<response>"}`,
plus provenance columns. The responses come from the trace itself (no LLM), in the trace-text
form that TraceEval scores (`codealchemy.tracer.render_text`). Task templates, files in
`prompts/` beside this module:

- `trace`: predict the full trace (cut at max_steps, with an explicit `… N more steps`);
- `output`: predict what the program prints (traces with stdout);
- `variable`: the value of a variable just before a line runs for the k-th time;
- `return`: the value the k-th call of a function returns.

For each trace, the templates that apply to it are drawn with a random generator seeded by
`seed` and the program's sha256, so a row depends only on the trace and the options.
Registered as the built-in strategy `codetrace` through `register_strategies`; it implements
`codealchemy.tracer.contracts.Strategy` (no generator: the trace is the answer).
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

from ...tracer import records, rows
from ...tracer.contracts import Input, option, prompt_version
from ...tracer.render_text import (
    FORMAT_HELP,
    VERSION,
    TextOptions,
    language_name,
    numbered,
    render,
    stdout_text,
)

PROMPTS = Path(__file__).with_name("prompts")
TEMPLATES = ("trace", "output", "variable", "return")
NAME = "codetrace"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


row_text = rows.turn_text


def _cut(value: str | None) -> bool:
    return value is None or value.endswith(records.TRUNCATION_MARKER)


@dataclass(frozen=True)
class Options:
    seed: int = option(0, "Picks each trace's templates and questions.")
    templates: tuple[str, ...] | None = option(
        None, f"Comma-separated templates to draw from: {', '.join(TEMPLATES)} (default: all).")
    rows_per_trace: int = option(1, "Rows per trace, each from a different template.")
    max_steps: int | None = option(200, "Cut `trace` responses after this many steps (marked).")
    max_value: int | None = option(200, "Cut values longer than this (marked).")
    max_output: int | None = option(2000, "Leave out `output` tasks whose stdout is longer.")
    statuses: tuple[str, ...] = option(("ok", "runtime_error"), "Comma-separated trace statuses to use.")
    dedup: bool = option(True, "One trace per program (the first usable one); --no-dedup uses every trace.")


@cache
def _first_traces(dump: str, statuses: tuple[str, ...]) -> frozenset[str]:
    """The trace ids that are the first, in index order, with a usable status for their program."""
    seen: set[str] = set()
    first = set()
    for entry in records.dump_index(dump):
        sha = entry.get("sha256")
        if entry.get("status") in statuses and sha and sha not in seen:
            seen.add(sha)
            first.add(f"{entry['shard']}:{entry['offset']}")
    return frozenset(first)


class CodeTrace:
    """Rows that ask for a program's trace, output, a variable's value or a return value, answered
    from its trace (no model).

    `process(inputs)` is the contract's (what `trace gen` calls); `rows(dump)` a whole dump in one go."""

    name = NAME
    Options = Options
    consumes = ("traces",)
    uses_generator = False
    prompt_version = prompt_version(PROMPTS, NAME)

    def __init__(self, seed: int = 0, templates: Iterable[str] | None = None, rows_per_trace: int = 1,
                 max_steps: int | None = 200, max_value: int | None = 200, max_output: int | None = 2000,
                 statuses: Iterable[str] = ("ok", "runtime_error"), dedup: bool = True, **unknown: Any):
        if unknown:
            raise ValueError(f"unknown codetrace option(s): {', '.join(sorted(unknown))}")
        self.templates = tuple(templates or TEMPLATES)
        bad = [t for t in self.templates if t not in TEMPLATES]
        if bad:
            raise ValueError(f"unknown template(s) {', '.join(bad)} (known: {', '.join(TEMPLATES)})")
        if rows_per_trace < 1:
            raise ValueError("rows_per_trace must be at least 1")
        self.seed, self.rows_per_trace, self.dedup = seed, rows_per_trace, dedup
        self.max_steps, self.max_output = max_steps, max_output
        self.text_options = TextOptions(max_steps=max_steps, max_value=max_value)
        self.statuses = tuple(statuses)
        self.prompts: dict[str, tuple[Template, str]] = {}
        #: why traces gave no row: reason -> count
        self.skipped: Counter = Counter()

    def load(self, generator: Any = None, params: Any = None) -> None:
        for name in self.templates:
            text = (PROMPTS / f"{name}.txt").read_text(encoding="utf-8")
            version = f"{NAME}/{name}@{hashlib.sha256(text.encode()).hexdigest()[:8]}"
            self.prompts[name] = (Template(text), version)

    def unload(self) -> None:
        self.prompts.clear()

    # --- the tasks a trace offers ------------------------------------------------------------

    def _trace_task(self, trace: list[dict]) -> dict | None:
        limit = (f"If the program runs for more than {self.max_steps} steps, write the first {self.max_steps} "
                 f"and end with a line `{records.TRUNCATION_MARKER} N more steps`." if self.max_steps else "")
        return {"vars": {"format": FORMAT_HELP, "limit": limit}, "response": render(trace, self.text_options)}

    def _output_task(self, trace: list[dict]) -> dict | None:
        out = stdout_text(trace)
        if not out.strip() or (self.max_output is not None and len(out) > self.max_output):
            return None
        if trace[-1].get("truncated") or trace[-1].get("status") != "ok":
            return None
        return {"vars": {}, "response": out}

    def _variable_tasks(self, trace: list[dict]) -> list[dict]:
        seen: Counter = Counter()
        tasks = []
        for r in trace:
            if r.get("kind") != "line":
                continue
            seen[r["line"]] += 1
            for name, value in (r.get("vars") or {}).items():
                if not _cut(value):
                    tasks.append({"vars": {"name": name, "line": r["line"], "nth": ordinal(seen[r["line"]])},
                                  "response": value})
        return tasks

    def _return_tasks(self, trace: list[dict]) -> list[dict]:
        calls: dict[Any, dict] = {}
        count: Counter = Counter()
        tasks = []
        for r in trace:
            kind = r.get("kind")
            if kind == "call":
                count[r["func"]] += 1
                calls[r.get("frame")] = {"func": r["func"], "nth": ordinal(count[r["func"]]),
                                         "args": r.get("args") or {}}
            elif kind == "return" and r.get("frame") in calls:
                call = calls.pop(r.get("frame"))
                if _cut(r.get("value")) or any(_cut(v) for v in call["args"].values()):
                    continue
                args = ", ".join(f"{k}={v}" for k, v in call["args"].items())
                tasks.append({"vars": {"func": call["func"], "nth": call["nth"], "call": f"{call['func']}({args})"},
                              "response": r["value"]})
        return tasks

    def _offers(self, trace: list[dict]) -> dict[str, list[dict]]:
        offers: dict[str, list[dict]] = {}
        for name in self.templates:
            if name == "trace":
                found = [t for t in [self._trace_task(trace)] if t]
            elif name == "output":
                found = [t for t in [self._output_task(trace)] if t]
            elif name == "variable":
                found = self._variable_tasks(trace)
            else:
                found = self._return_tasks(trace)
            if found:
                offers[name] = found
        return offers

    # --- rows --------------------------------------------------------------------------------

    def _skip(self, inp: Input, reason: str) -> list[dict]:
        self.skipped[reason] += 1
        return [rows.failure(inp, self, None, "skipped", reason)]

    def rows_for(self, trace: list[dict], trace_id: str, *, base: str | Path | None = None) -> list[dict]:
        """The rows of one trace (empty, with the reason counted in `skipped`, when none)."""
        return [r for r in self._rows_of(Input.from_trace(trace, trace_id, base)) if r["status"] == rows.OK]

    def process(self, batch: Sequence[Input]) -> Iterator[dict]:
        """Rows for each input; an input it does not use is a `skipped` row with the reason."""
        for inp in batch:
            if (self.dedup and inp.origin is not None
                    and inp.id not in _first_traces(inp.origin, tuple(self.statuses))
                    and inp.records[-1].get("status") in self.statuses):
                yield from self._skip(inp, "same source as another trace")
            else:
                yield from self._rows_of(inp)

    def _rows_of(self, inp: Input) -> list[dict]:
        if not self.prompts:
            self.load()
        trace = inp.records
        foot = trace[-1]
        if foot.get("status") not in self.statuses:
            return self._skip(inp, f"status {foot.get('status')}")
        if not any(r.get("kind") in records.EVENT_KINDS for r in trace):
            return self._skip(inp, "no events")
        if inp.code is None:
            return self._skip(inp, f"no program text: {inp.code_error}")
        code = inp.code
        offers = self._offers(trace)
        if not offers:
            return self._skip(inp, "no template applies")
        head = trace[0]
        sha, language = head["sha256"], head.get("language") or "?"
        rng = random.Random(f"{NAME}:{self.seed}:{sha}")
        chosen = rng.sample(sorted(offers), min(self.rows_per_trace, len(offers)))
        out = []
        for name in chosen:
            task = rng.choice(offers[name])
            template, version = self.prompts[name]
            prompt = template.substitute(language=language_name(language), fence=language, code=numbered(code),
                                         **task["vars"]).strip()
            out.append(rows.row(inp, self, None, row_text(prompt, task["response"]), prompt=prompt,
                                response=task["response"], template=name, source_path=head.get("source"),
                                prompt_version=version, format=f"trace-text/{VERSION}", seed=self.seed))
        return out

    def rows(self, dump: str | Path) -> Iterator[dict]:
        """Rows for every trace of a dump, in index order (one trace per program unless dedup=False)."""
        seen: set[str] = set()
        for entry in records.dump_index(dump):
            sha = entry.get("sha256")
            if self.dedup and sha and sha in seen:
                self.skipped["same source as another trace"] += 1
                continue
            if entry.get("status") not in self.statuses:
                self.skipped[f"status {entry.get('status')}"] += 1
                continue
            trace = records.dump_trace(dump, entry)
            out = self.rows_for(trace, f"{entry['shard']}:{entry['offset']}", base=Path(dump).parent)
            if out and sha:
                seen.add(sha)
            yield from out

