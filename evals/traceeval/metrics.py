"""TraceEval metrics: exact match, ROUGE-2 F1 on code tokens, per-step accuracy.

All three compare `render_text.normalize`d texts, return a fraction in [0, 1], give 1 for
identical texts and 0 for an empty prediction of a non-empty reference. See
docs/trace-text.md for the definitions.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Sequence

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


METRICS = {"exact_match": exact_match, "rouge2": rouge_n, "step_accuracy": step_accuracy}


def score_one(prediction: str, reference: str) -> dict[str, float]:
    return {name: fn(prediction, reference) for name, fn in METRICS.items()}
