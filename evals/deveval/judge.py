"""Pairwise judging: the candidate's answer against the reference, asked in both orders.

The judge must end with one line `VERDICT: A`, `VERDICT: B` or `VERDICT: TIE`, exactly (no
other line may be a verdict line). Anything else is a parse failure, kept with the judge's raw
output; it is never guessed. Each order's verdict is turned into the candidate's result (1 a
win, 0.5 a tie, 0 a loss); a task's result is the mean of its two orders, so a judge that
always prefers one position gives a tie. A task whose judging failed in either order is not
scored and is counted apart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ...tracer.generators import GenerationParams, Generator
from .build import load_prompt
from .models import ask

VERDICT = re.compile(r"VERDICT: (A|B|TIE)")
CLAIM = re.compile(r"\W*verdict\b", re.IGNORECASE)
#: candidate_first: the candidate is answer A; reference_first: the candidate is answer B
ORDERS = ("candidate_first", "reference_first")


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
    """Judge each (task, candidate answer) in both orders, in one batch of 2n requests."""
    template, version = load_prompt("judge.txt")
    requests = []
    for task, answer in pairs:
        for order in ORDERS:
            a, b = (answer, task["reference"]) if order == "candidate_first" else (task["reference"], answer)
            requests.append((f"{task['id']}/{order}", template.substitute(request=task["prompt"], answer_a=a,
                                                                           answer_b=b).strip()))
    got = ask(generator, params, requests)
    out = []
    for n, (task, _) in enumerate(pairs):
        orders, results, failures = {}, [], []
        for k, order in enumerate(ORDERS):
            c = got[2 * n + k]
            entry: dict = {"raw": c.text, "prompt_version": version}
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
