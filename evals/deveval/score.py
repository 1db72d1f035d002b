"""DevEval scoring: the candidate's win rate against the references, with a bootstrap 95% interval.

Scoring reads the verdicts of the judge phase (judge.verdicts) and asks no model. Win rate: the
mean of the scored tasks' results (1 a win, 0.5 a tie, 0 a loss, each the mean of both orders;
a prediction that failed or is empty is a loss). Tasks whose judging failed are not scored;
their share is `judge_failure_rate`. The interval: percentile bootstrap over the scored tasks (resampled
with replacement, a fixed seed). Groups: overall, `by_language`, `by_kind`.
A group with no scored task has NaN rates (printed as nan).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

from ...tracer.contracts import answer_text, pair_by_id
from ..stats import BOOTSTRAP, bootstrap_interval
from .judge import FORMAT, check_tasks, sha256

RATES = ("win_rate", "ci_low", "ci_high", "win", "tie", "loss", "judge_failure_rate")


class DevEvalError(ValueError):
    """Bad tasks or predictions (one line naming the culprit)."""


def summarize(results: list[float], failed: int, resamples: int = BOOTSTRAP) -> dict:
    n = len(results)
    total = n + failed
    low, high = bootstrap_interval(results, resamples)

    def share(value: float) -> float:
        return sum(1 for r in results if r == value) / n if n else math.nan

    return {"win_rate": sum(results) / n if n else math.nan, "ci_low": low, "ci_high": high,
            "win": share(1.0), "tie": share(0.5), "loss": share(0.0),
            "judge_failure_rate": failed / total if total else math.nan, "n": n, "judge_failed": failed}


def _check_verdict(key: str, verdict: dict, task: dict, prediction: dict) -> None:
    """A verdict must be of this prediction and this reference, and well formed."""
    if verdict.get("format") != FORMAT:
        raise DevEvalError(f"verdict for task id {key!r} is not a {FORMAT} row (from `trace eval deveval judge`)")
    if verdict.get("prediction_sha256") != sha256(answer_text(prediction)):
        raise DevEvalError(f"verdict for task id {key!r} judged another prediction: judge these predictions again")
    if verdict.get("reference_sha256") != sha256(task["reference"]):
        raise DevEvalError(f"verdict for task id {key!r} judged another reference: judge these tasks again")
    result = verdict.get("result")
    if result is not None and result not in (0.0, 0.5, 1.0, 0.25, 0.75):
        raise DevEvalError(f"verdict for task id {key!r} has result {result!r}")


def score(tasks: Iterable[dict], predictions: Iterable[dict], *, verdicts: Iterable[dict] | None = None,
          per_task: list | None = None, resamples: int = BOOTSTRAP) -> dict:
    """The win rate of the predictions by their verdicts (judge.verdicts: every task exactly one,
    each of that very prediction and reference, all of one judge); each task's verdict is
    appended to `per_task`."""
    if verdicts is None:
        raise DevEvalError("deveval score needs the verdicts of `trace eval deveval judge` (--verdicts)")
    tasks = list(tasks)
    tasks_by_id, preds_by_id = pair_by_id(tasks, predictions, DevEvalError)
    check_tasks(tasks_by_id, DevEvalError)
    _, verdicts_by_id = pair_by_id(tasks, verdicts, DevEvalError)
    judges = {repr(v.get("judge")) for v in verdicts_by_id.values()}
    if len(judges) != 1:
        raise DevEvalError(f"the verdicts name {len(judges)} different judges: judge all predictions with one")
    results: dict[str, list[float]] = defaultdict(list)
    failed: dict[str, int] = defaultdict(int)
    for key, task in tasks_by_id.items():
        verdict = verdicts_by_id[key]
        try:
            _check_verdict(key, verdict, task, preds_by_id[key])
        except ValueError as e:
            raise DevEvalError(str(e)) from None
        for g in ("*", f"language:{task.get('language') or '?'}", f"kind:{task.get('kind') or '?'}"):
            if verdict["result"] is None:
                failed[g] += 1
            else:
                results[g].append(verdict["result"])
        if per_task is not None:
            per_task.append(verdict)
    keys = sorted(set(results) | set(failed))

    def group(prefix: str) -> dict:
        return {k.split(":", 1)[1]: summarize(results[k], failed[k], resamples) for k in keys if k.startswith(prefix)}

    return {**summarize(results["*"], failed["*"], resamples), "by_language": group("language:"),
            "by_kind": group("kind:"), "judge": next(iter(verdicts_by_id.values()))["judge"]}
