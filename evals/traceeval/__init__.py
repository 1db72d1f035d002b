"""TraceEval: the execution-prediction benchmark of the CodeAlchemy paper.

A model reads a program and writes its execution trace in trace-text form
(`codealchemy.tracer.render_text`); it is scored by exact match, ROUGE-2 F1 on code tokens,
and per-step accuracy. Registered as the built-in benchmark `traceeval` through the
`register_benchmarks` hook, like any third-party benchmark.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .build import BuildOptions, BuildResult, build
from .score import TraceEvalError, read_jsonl, score

__all__ = ["BuildOptions", "BuildResult", "TraceEval", "TraceEvalError", "read_jsonl"]


class TraceEval:
    """The Benchmark interface: `build(...)` tasks from dumps, `score(tasks, predictions)`."""

    name = "traceeval"

    def __init__(self, **options: Any):
        self.options = BuildOptions(**options)

    def build(self, dump: str | Path, **overrides: Any) -> BuildResult:
        from dataclasses import replace

        return build(dump, replace(self.options, **overrides))

    def prompts(self, tasks: Sequence[dict]) -> list[str]:
        return [t["prompt"] for t in tasks]

    def score(self, tasks: Iterable[dict], predictions: Iterable[dict], *, per_task: list | None = None) -> dict:
        return score(tasks, predictions, per_task=per_task)
