"""TraceEval: the execution-prediction benchmark of the CodeAlchemy paper.

A model reads a program and writes its execution trace in trace-text form
(`codealchemy.tracer.render_text`); it is scored by exact match, ROUGE-2 F1 on code tokens,
and per-step accuracy. Registered as the built-in benchmark `traceeval` through the
`register_benchmarks` hook, like any third-party benchmark; it implements
`codealchemy.tracer.contracts.Benchmark`, with `BuildOptions` as its typed Options.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...tracer.contracts import BuildResult, predict_with
from .build import BuildOptions, build
from .score import TraceEvalError, score

__all__ = ["BuildOptions", "BuildResult", "TraceEval", "TraceEvalError"]


class TraceEval:
    """`build(dump)` tasks, `predict(tasks, generator, params)`, `score(tasks, predictions)`."""

    name = "traceeval"
    Options = BuildOptions

    def __init__(self, **options: Any):
        self.options = BuildOptions(**options)

    def build(self, dump: str | Path, **overrides: Any) -> BuildResult:
        return build(dump, replace(self.options, **overrides))

    def prompts(self, tasks: Sequence[dict]) -> list[str]:
        return [t["prompt"] for t in tasks]

    def predict(self, tasks: Sequence[dict], generator: Any, params: Any) -> list[dict]:
        return predict_with(tasks, generator, params)

    def score(self, tasks: Iterable[dict], predictions: Iterable[dict], *, per_task: list | None = None) -> dict:
        return score(tasks, predictions, per_task=per_task)
