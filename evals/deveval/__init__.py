"""DevEval: developer tasks on seed files, judged pairwise against reference answers.

`trace eval deveval build SOURCE --out TASKS --held-out SEEDS.jsonl --reference-generator G
--reference-options k=v,...` picks seed files of a corpus or dump, makes one task per seed (a
kind in turn: explain, refactor, review, tests; prompts in prompts/tasks/), has G write each
reference answer, and writes the seeds' sha256 to the held-out manifest (build.write_held_out),
which `trace dedup --decontaminate` reads. `predict` asks the candidate as every benchmark
does. `judge TASKS PREDICTIONS --generator J --out VERDICTS` has J judge each prediction against
its reference (judge.py: both orders, each a comparison and then a verdict, ties allowed,
strict verdicts constrained to the three verdict lines where J can, failures kept with the raw
output). `score TASKS PREDICTIONS
--verdicts VERDICTS` asks no model: the win rate with a bootstrap 95% interval, overall, by
language and (in `--json`) by kind, and the judge the verdicts name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...tracer.contracts import BuildResult, predict_with
from .build import HELD_OUT_FORMAT, KINDS, DevEvalOptions, build, read_held_out
from .judge import verdicts
from .score import DevEvalError, score

__all__ = ["HELD_OUT_FORMAT", "KINDS", "DevEval", "DevEvalError", "DevEvalOptions", "read_held_out"]


class DevEval:
    """DevEval: developer tasks judged pairwise against reference answers (win rate, 95% CI)."""

    name = "deveval"
    Options = DevEvalOptions

    def __init__(self, **options: Any):
        self.options = DevEvalOptions(**options)

    def build(self, source: str | Path, **overrides: Any) -> BuildResult:
        return build(source, replace(self.options, **overrides))

    def predict(self, tasks: Sequence[dict], generator: Any, params: Any) -> list[dict]:
        return predict_with(tasks, generator, params)

    def judge(self, tasks: Sequence[dict], predictions: Sequence[dict], generator: Any, params: Any) -> list[dict]:
        return verdicts(tasks, predictions, generator, params)

    def score(self, tasks: Iterable[dict], predictions: Iterable[dict], *, verdicts: Iterable[dict] | None = None,
              per_task: list | None = None) -> dict:
        return score(tasks, predictions, verdicts=verdicts, per_task=per_task)
