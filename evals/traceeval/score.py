"""TraceEval scoring: predictions against tasks, overall and by language."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from ...tracer.contracts import answer_text, pair_by_id
from ..stats import BOOTSTRAP, bootstrap_intervals
from .metrics import METRICS, score_one, unavailable


class TraceEvalError(ValueError):
    """Bad tasks or predictions; the message is one line that names the culprit."""


def score(tasks: Iterable[dict], predictions: Iterable[dict], *, per_task: list | None = None,
          resamples: int = BOOTSTRAP) -> dict:
    """`{metric: mean, "n", "intervals": {metric: [low, high]}, "by_language": {lang: {same}},
    "unavailable": {metric: why}}`, each metric (metrics.METRICS) the mean over tasks, a
    fraction in [0, 1], or None when it cannot be had here; `intervals` the bootstrap 95%
    interval of each mean (evals.stats). A prediction is scored without the model's reasoning
    (`<think>…</think>`). Every task needs exactly one prediction and every prediction a task: a
    missing or extra id raises TraceEvalError naming it. Pass a list as `per_task` to get each
    task's scores appended to it."""
    tasks_by_id, preds_by_id = pair_by_id(tasks, predictions, TraceEvalError)
    missing = unavailable()
    names = [name for name in METRICS if name not in missing]
    columns: dict[str, dict[str, list[float]]] = defaultdict(lambda: {name: [] for name in names})
    for key, task in tasks_by_id.items():
        try:
            prediction = answer_text(preds_by_id[key])
        except ValueError as e:
            raise TraceEvalError(str(e)) from None
        reference = task.get("reference")
        if not isinstance(reference, str):
            raise TraceEvalError(f"task id {key!r} has no reference")
        scores = score_one(prediction, reference)
        if per_task is not None:
            per_task.append({"id": key, "language": task.get("language"), **scores})
        for lang in ("*", task.get("language") or "?"):
            for name in names:
                columns[lang][name].append(scores[name])

    def means(lang: str) -> dict:
        group = columns[lang]
        n = len(group[names[0]]) if names else 0
        intervals = bootstrap_intervals(group, resamples)
        return {**{name: None if name in missing else (sum(group[name]) / n if n else 0.0) for name in METRICS},
                "n": n, "intervals": {name: list(bounds) for name, bounds in intervals.items()}}

    return {**means("*"), "by_language": {lang: means(lang) for lang in sorted(columns) if lang != "*"},
            "unavailable": missing}
