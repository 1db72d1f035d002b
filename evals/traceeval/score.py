"""TraceEval scoring: predictions against tasks, overall and by language."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from ...tracer.contracts import pair_by_id
from .metrics import METRICS, score_one


class TraceEvalError(ValueError):
    """Bad tasks or predictions; the message is one line that names the culprit."""


def score(tasks: Iterable[dict], predictions: Iterable[dict], *, per_task: list | None = None) -> dict:
    """`{"exact_match", "rouge2", "step_accuracy", "n", "by_language": {lang: {... "n"}}}`, each
    metric the mean over tasks, a fraction in [0, 1]. Every task needs exactly one prediction
    and every prediction a task: a missing or extra id raises TraceEvalError naming it.
    Pass a list as `per_task` to get each task's scores appended to it."""
    tasks_by_id, preds_by_id = pair_by_id(tasks, predictions, TraceEvalError)
    sums: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(METRICS, 0.0))
    counts: dict[str, int] = defaultdict(int)
    for key, task in tasks_by_id.items():
        prediction = preds_by_id[key].get("prediction")
        if prediction is None:
            prediction = ""
        if not isinstance(prediction, str):
            raise TraceEvalError(f"prediction for task id {key!r} is not a string")
        reference = task.get("reference")
        if not isinstance(reference, str):
            raise TraceEvalError(f"task id {key!r} has no reference")
        scores = score_one(prediction, reference)
        if per_task is not None:
            per_task.append({"id": key, "language": task.get("language"), **scores})
        for lang in ("*", task.get("language") or "?"):
            counts[lang] += 1
            for name, value in scores.items():
                sums[lang][name] += value

    def means(lang: str) -> dict:
        n = counts[lang]
        return {**{name: (sums[lang][name] / n if n else 0.0) for name in METRICS}, "n": n}

    return {**means("*"), "by_language": {lang: means(lang) for lang in sorted(counts) if lang != "*"}}
