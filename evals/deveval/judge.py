"""Pairwise judging: the candidate's answer against the reference, asked in both orders.

Each order is two turns, as judges reason first and decide after (MT-Bench's judge explains
before its verdict): the judge compares the two answers in a few sentences (`judge.txt`, the
caller's sampling parameters), then, told its comparison back, gives its verdict (`verdict.txt`,
at most VERDICT_TOKENS tokens). Asked for the verdict at once, a 1.5B judge wrote `VERDICT: A`
in 54 of 56 orders; comparing first, its verdicts depend on the answers. The verdict must be
one line `VERDICT: A`, `VERDICT: B` or `VERDICT: TIE`, exactly (no other line may be a
verdict line). That request carries those three lines as its `choices`, so a generator that can
constrain decoding (llama.cpp's grammar, vLLM's structured outputs) makes even a tiny judge
answer with one of them; the parse stays strict for those that cannot.
Anything else is a parse failure, kept with the judge's raw output; it is never guessed. Each
order's verdict is turned into the candidate's result (1 a win, 0.5 a tie, 0 a loss); a task's
result is the mean of its two orders, so a judge that always prefers one position gives a tie.
A task whose judging failed in either order is not scored and is counted apart.

`verdicts()` is the benchmark's judge phase: one verdict row per task, tied to the prediction
and the reference it judged by their sha256, naming the judge; a prediction that failed or is
empty is a loss without asking the judge (the candidate gave no answer).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ...tracer.contracts import answer_text, pair_by_id
from ...tracer.generators import GenerationParams, Generator
from .build import load_prompt
from .models import ask

VERDICT = re.compile(r"VERDICT: (A|B|TIE)")
CHOICES = ("VERDICT: A", "VERDICT: B", "VERDICT: TIE")
FORMAT = "deveval-verdict/1"
CLAIM = re.compile(r"\W*verdict\b", re.IGNORECASE)
#: candidate_first: the candidate is answer A; reference_first: the candidate is answer B
ORDERS = ("candidate_first", "reference_first")
VERDICT_TOKENS = 16


class VerdictError(ValueError):
    """A judge output without exactly one well-formed final verdict line."""


def parse_verdict(text: str) -> str:
    """"A", "B" or "TIE" from the judge's output; VerdictError says what is wrong."""
    lines = [line.strip() for line in text.strip().splitlines()]
    claims = [line for line in lines if CLAIM.match(line)]
    if not claims:
        raise VerdictError("no verdict line")
    if len(claims) > 1:
        raise VerdictError(f"{len(claims)} verdict lines")
    if lines[-1] != claims[0]:
        raise VerdictError("the verdict line is not the last line")
    m = VERDICT.fullmatch(claims[0])
    if m is None:
        raise VerdictError(f"malformed verdict line {claims[0][:60]!r}")
    return m.group(1)


def candidate_result(order: str, verdict: str) -> float:
    """The candidate's result for one order's verdict: 1 win, 0.5 tie, 0 loss."""
    if verdict == "TIE":
        return 0.5
    candidate = "A" if order == "candidate_first" else "B"
    return 1.0 if verdict == candidate else 0.0


@dataclass
class Judged:
    """One task's judging: per order the raw output, the verdict or the failure."""

    id: str
    result: float | None          # None: not scored (see failure)
    orders: dict
    failure: str | None = None

    def to_dict(self) -> dict:
        return {"id": self.id, "result": self.result, "orders": self.orders, "failure": self.failure}


def judge(pairs: Sequence[tuple[dict, str]], generator: Generator, params: GenerationParams) -> list[Judged]:
    """Judge each (task, candidate answer) in both orders: 2n comparisons, then 2n verdicts."""
    compare, compare_version = load_prompt("judge.txt")
    decide, decide_version = load_prompt("verdict.txt")
    version = f"{compare_version}+{decide_version.split('/', 1)[1]}"
    firsts = []
    for task, answer in pairs:
        for order in ORDERS:
            a, b = (answer, task["reference"]) if order == "candidate_first" else (task["reference"], answer)
            firsts.append((f"{task['id']}/{order}", compare.substitute(request=task["prompt"], answer_a=a,
                                                                        answer_b=b).strip()))
    comparisons = ask(generator, params, firsts)
    seconds = [(key, ({"role": "user", "content": text}, {"role": "assistant", "content": c.text.strip()},
                      {"role": "user", "content": decide.substitute().strip()}))
               for (key, text), c in zip(firsts, comparisons, strict=True) if c.error is None]
    decided = iter(ask(generator, replace(params, max_tokens=VERDICT_TOKENS), seconds, choices=CHOICES))
    out = []
    for n, (task, _) in enumerate(pairs):
        orders, results, failures = {}, [], []
        for k, order in enumerate(ORDERS):
            first = comparisons[2 * n + k]
            entry: dict = {"comparison": first.text, "prompt_version": version}
            c = first if first.error is not None else next(decided)
            entry["raw"] = c.text
            if c.error is not None:
                entry["error"] = f"judge call failed: {c.error}"
            else:
                try:
                    entry["verdict"] = parse_verdict(c.text)
                    entry["result"] = candidate_result(order, entry["verdict"])
                    results.append(entry["result"])
                except VerdictError as e:
                    entry["error"] = f"unparsed verdict: {e}"
            if "error" in entry:
                failures.append(f"{order}: {entry['error']}")
            orders[order] = entry
        result = sum(results) / len(results) if not failures else None
        out.append(Judged(task["id"], result, orders, "; ".join(failures) or None))
    return out


class JudgeInputError(ValueError):
    """Tasks or predictions the judge cannot take (one line naming the culprit)."""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_tasks(tasks_by_id: dict[str, dict], error: type[Exception]) -> None:
    if not tasks_by_id:
        raise error("no task")
    for key, task in tasks_by_id.items():
        if not isinstance(task.get("reference"), str) or not isinstance(task.get("prompt"), str):
            raise error(f"task id {key!r} has no reference or prompt")


def verdicts(tasks: Iterable[dict], predictions: Iterable[dict], generator: Generator,
             params: GenerationParams) -> list[dict]:
    """One verdict row per task (in the tasks' order): the judging of its prediction."""
    tasks_by_id, preds_by_id = pair_by_id(tasks, predictions, JudgeInputError)
    check_tasks(tasks_by_id, JudgeInputError)
    answers = {k: answer_text(p) for k, p in preds_by_id.items()}
    answered = [(tasks_by_id[k], a) for k, a in answers.items() if not preds_by_id[k].get("error") and a.strip()]
    judged = {j.id: j for j in judge(answered, generator, params)}
    who = {"generator": generator.name, "model": generator.model, "params": params.to_dict()}
    out = []
    for key, task in tasks_by_id.items():
        j = judged.get(key)
        if j is None:
            why = preds_by_id[key].get("error") or "empty answer"
            record = {"id": key, "result": 0.0, "orders": {}, "failure": None,
                      "note": f"no answer from the candidate (a loss): {why}"}
        else:
            record = j.to_dict()
        out.append({**record, "language": task.get("language"), "kind": task.get("kind"), "format": FORMAT,
                    "prediction_sha256": sha256(answers[key]), "reference_sha256": sha256(task["reference"]),
                    "judge": who})
    return out
