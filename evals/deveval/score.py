"""DevEval scoring: the candidate's win rate against the references, with a bootstrap 95% interval.

Win rate: the mean of the scored tasks' results (judge.py: 1 a win, 0.5 a tie, 0 a loss, each
the mean of both orders). A prediction that failed (its `error`) or is empty is a loss without
asking the judge: the candidate gave no answer. Tasks whose judging failed are not scored; their share
is `judge_failure_rate`. The interval: percentile bootstrap over the scored tasks (resampled
with replacement, a fixed seed). Groups: overall, `by_language`, `by_kind`.
A group with no scored task has NaN rates (printed as nan).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable

from ...tracer.contracts import pair_by_id
from ...tracer.generators import GenerationParams, Generator
from . import models
from .judge import judge

BOOTSTRAP = 1000
RATES = ("win_rate", "ci_low", "ci_high", "win", "tie", "loss", "judge_failure_rate")


class DevEvalError(ValueError):
    """Bad tasks or predictions (one line naming the culprit)."""


def bootstrap_interval(results: list[float], resamples: int = BOOTSTRAP, seed: int = 0) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles of the mean over resamples of `results`."""
    if not results:
        return math.nan, math.nan
    rng = random.Random(seed)
    n = len(results)
    means = sorted(sum(rng.choices(results, k=n)) / n for _ in range(resamples))
    return means[int(0.025 * (resamples - 1))], means[math.ceil(0.975 * (resamples - 1))]


def summarize(results: list[float], failed: int, resamples: int = BOOTSTRAP) -> dict:
    n = len(results)
    total = n + failed
    low, high = bootstrap_interval(results, resamples)

    def share(value: float) -> float:
        return sum(1 for r in results if r == value) / n if n else math.nan

    return {"win_rate": sum(results) / n if n else math.nan, "ci_low": low, "ci_high": high,
            "win": share(1.0), "tie": share(0.5), "loss": share(0.0),
            "judge_failure_rate": failed / total if total else math.nan, "n": n, "judge_failed": failed}


def _judge_spec(tasks: dict[str, dict]) -> dict:
    specs = {repr(t.get("judge")) for t in tasks.values()}
    if len(specs) != 1:
        raise DevEvalError(f"the tasks name {len(specs)} different judges; build them in one run")
    spec = next(iter(tasks.values())).get("judge")
    if not isinstance(spec, dict):
        raise DevEvalError("the tasks name no judge (build them with --judge)")
    return spec


def score(tasks: Iterable[dict], predictions: Iterable[dict], *, per_task: list | None = None,
          generator: Generator | None = None, params: GenerationParams | None = None,
          resamples: int = BOOTSTRAP) -> dict:
    """Judge every task's prediction (the judge the tasks name, or `generator`/`params`) and
    summarize; each task's judging (raw outputs, verdicts, failures) is appended to `per_task`."""
    tasks_by_id, preds_by_id = pair_by_id(tasks, predictions, DevEvalError)
    if not tasks_by_id:
        raise DevEvalError("no task")
    for key, task in tasks_by_id.items():
        if not isinstance(task.get("reference"), str) or not isinstance(task.get("prompt"), str):
            raise DevEvalError(f"task id {key!r} has no reference or prompt")
        if not isinstance(preds_by_id[key].get("prediction") or "", str):
            raise DevEvalError(f"prediction for task id {key!r} is not a string")
    owned = generator is None
    if owned:
        try:
            generator, params = models.make(_judge_spec(tasks_by_id))
        except ValueError as e:
            raise DevEvalError(f"judge: {e}") from None
    params = params or GenerationParams(temperature=0.0, max_tokens=512)
    answered = [(tasks_by_id[k], p["prediction"]) for k, p in preds_by_id.items()
                if not p.get("error") and (p.get("prediction") or "").strip()]
    try:
        judged = {j.id: j for j in judge(answered, generator, params)}
    finally:
        if owned:
            models.close(generator)
    results: dict[str, list[float]] = defaultdict(list)
    failed: dict[str, int] = defaultdict(int)
    for key, task in tasks_by_id.items():
        j = judged.get(key)
        if j is None:
            why = preds_by_id[key].get("error") or "empty"
            record = {"id": key, "result": 0.0, "orders": {}, "failure": None,
                      "note": f"no answer from the candidate (a loss): {why}"}
        else:
            record = j.to_dict()
        groups = ("*", f"language:{task.get('language') or '?'}", f"kind:{task.get('kind') or '?'}")
        for g in groups:
            if record["result"] is None:
                failed[g] += 1
            else:
                results[g].append(record["result"])
        if per_task is not None:
            per_task.append({**record, "language": task.get("language"), "kind": task.get("kind"),
                             "judge": {"generator": generator.name, "model": generator.model}})
    keys = sorted(set(results) | set(failed))

    def group(prefix: str) -> dict:
        return {k.split(":", 1)[1]: summarize(results[k], failed[k], resamples) for k in keys if k.startswith(prefix)}

    return {**summarize(results["*"], failed["*"], resamples), "by_language": group("language:"),
            "by_kind": group("kind:"), "judge": {"generator": generator.name, "model": generator.model}}
