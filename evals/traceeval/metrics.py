"""TraceEval metrics: exact match, ROUGE-2 F1 on code tokens and with the standard `rouge_score`
package, step accuracy and REval's per-step state accuracy.

All compare `render_text.normalize`d texts and return a fraction in [0, 1]; all but the
standard ROUGE-2 (the package's own figure, as papers report it) give 1 for identical texts and
0 for an empty prediction of a non-empty reference. The standard ROUGE-2 is None where the
package is not installed (`UNAVAILABLE` says why). See docs/trace-text.md for the definitions.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Sequence
from functools import lru_cache

from ...tracer.render_text import normalize, parse_steps

#: Code-aware tokens: a line break, a number, an identifier or word, or any other single
#: non-space character. Case is kept; spaces separate tokens and are not tokens.
TOKEN = re.compile(r"\n|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[^\W\d]\w*|[^\s]")
NEWLINE_TOKEN = "\\n"


def tokenize(text: str) -> list[str]:
    """Code-aware tokens of a normalized text (see TOKEN); a line break is the token `\\n`."""
    return [NEWLINE_TOKEN if t == "\n" else t for t in TOKEN.findall(text)]


def exact_match(prediction: str, reference: str) -> float:
    return 1.0 if normalize(prediction) == normalize(reference) else 0.0


def ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(zip(*(tokens[i:] for i in range(n)), strict=False))  # ragged on purpose: n-grams


def rouge_n(prediction: str, reference: str, n: int = 2) -> float:
    """ROUGE-N F1 over code tokens: clipped n-gram overlap, harmonic mean of precision and recall.

    Texts with fewer than n tokens have no n-grams: then the score is 1 when both token lists
    are equal (two empty texts included) and 0 otherwise.
    """
    pred, ref = tokenize(normalize(prediction)), tokenize(normalize(reference))
    p, r = ngrams(pred, n), ngrams(ref, n)
    if not p or not r:
        return 1.0 if pred == ref else 0.0
    overlap = sum((p & r).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / sum(p.values()), overlap / sum(r.values())
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Length of a longest common subsequence (bit-parallel, Allison-Dix / Hyyrö)."""
    if not a or not b:
        return 0
    masks: dict[Hashable, int] = {}
    for i, x in enumerate(a):
        masks[x] = masks.get(x, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for y in b:
        u = v & masks.get(y, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def step_accuracy(prediction: str, reference: str) -> float:
    """The fraction of reference steps that the prediction gets right, in order.

    Both texts are read as steps (`render_text.parse_steps`: line number, kind and values,
    variable order ignored); the prediction's steps are aligned with the reference's by a
    longest common subsequence, so one missing or extra step costs one step, not the rest of
    the trace. A reference without steps scores 1 against a prediction without steps, else 0.
    """
    ref, pred = parse_steps(reference), parse_steps(prediction)
    if not ref:
        return 1.0 if not pred else 0.0
    return lcs_length(ref, pred) / len(ref)


def variable_states(steps: Sequence[tuple]) -> dict[tuple, frozenset]:
    """The variable states of a trace's steps, keyed by where they are: (`line`, n) or (`call`,
    n, function), and how many times the trace was there before (0 the first time)."""
    seen: Counter = Counter()
    out = {}
    for step in steps:
        if step[0] == "line":
            where, states = ("line", step[1]), step[2]
        elif step[0] == "call" and len(step) == 4:
            where, states = ("call", step[1], step[2]), step[3]
        else:
            continue
        out[(where, seen[where])] = states
        seen[where] += 1
    return out


def state_accuracy(prediction: str, reference: str) -> float:
    """REval's program-state accuracy over a whole trace: the fraction of the reference's
    variable states (each `name=value` of a line step, each argument of a call) that the
    prediction states alike at the same step, the k-th time the trace is at that line (or call).
    A reference without any variable state is scored by step accuracy."""
    ref_steps = parse_steps(reference)
    ref = variable_states(ref_steps)
    total = sum(len(states) for states in ref.values())
    if total == 0:
        return step_accuracy(prediction, reference)
    pred = variable_states(parse_steps(prediction))
    return sum(len(states & pred.get(key, frozenset())) for key, states in ref.items()) / total


UNAVAILABLE = "the rouge-score package is not installed: pip install 'codealchemy[eval]'"


@lru_cache(maxsize=1)
def _standard_scorer():
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        return None
    return rouge_scorer.RougeScorer(["rouge2"])


def rouge2_standard(prediction: str, reference: str) -> float | None:
    """ROUGE-2 F-measure of Google's `rouge_score` with its default tokenizer (lower-cased
    ASCII words and numbers, no stemming), as papers report it; None without the package."""
    scorer = _standard_scorer()
    if scorer is None:
        return None
    return scorer.score(normalize(reference), normalize(prediction))["rouge2"].fmeasure


METRICS = {"exact_match": exact_match, "rouge2": rouge_n, "rouge2_standard": rouge2_standard,
           "step_accuracy": step_accuracy, "state_accuracy": state_accuracy}


def score_one(prediction: str, reference: str) -> dict[str, float | None]:
    return {name: fn(prediction, reference) for name, fn in METRICS.items()}


def unavailable() -> dict[str, str]:
    """Metric -> why it cannot be had here (empty when all can)."""
    return {"rouge2_standard": UNAVAILABLE} if _standard_scorer() is None else {}
