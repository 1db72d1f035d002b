"""TraceEval metrics behave as metrics must: identical -> 1, empty -> 0, partial in between,
monotone in what the prediction gets right, bounded, and the tokenization is the documented one;
the standard ROUGE-2 is rouge_score's own figure, and says so when the package is missing."""

from __future__ import annotations

import random
import sys

import pytest
from te_programs import PYTHON
from te_pytrace import trace_python

from codealchemy.evals.traceeval import metrics
from codealchemy.evals.traceeval.metrics import (
    METRICS,
    exact_match,
    lcs_length,
    rouge2_standard,
    rouge_n,
    score_one,
    state_accuracy,
    step_accuracy,
    tokenize,
)
from codealchemy.tracer.render_text import parse_steps, render

REFERENCES = {name: render(trace_python(code, source=name)) for name, code in PYTHON.items()}
LONG = {name: ref for name, ref in REFERENCES.items() if 6 <= len(ref.split("\n")) <= 100}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_identical_scores_one_on_every_metric(name):
    # rouge_score has no bigram in a one-word text ("L1"): its figure is then 0, as the package says
    standard = 1.0 if len(REFERENCES[name].split()) > 1 else 0.0
    assert score_one(REFERENCES[name], REFERENCES[name]) == {**dict.fromkeys(METRICS, 1.0), "rouge2_standard": standard}


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("empty", ["", "   \n\n", "```\n```"])
def test_an_empty_prediction_scores_zero_on_every_metric(name, empty):
    assert score_one(empty, REFERENCES[name]) == dict.fromkeys(METRICS, 0.0)


@pytest.mark.parametrize("name", sorted(LONG))
def test_a_partial_prediction_scores_strictly_between(name):
    ref = LONG[name]
    lines = ref.split("\n")
    half = "\n".join(lines[: len(lines) // 2])
    scores = score_one(half, ref)
    assert scores["exact_match"] == 0.0
    for metric in METRICS:
        if metric != "exact_match":
            assert 0.0 < scores[metric] < 1.0, metric


@pytest.mark.parametrize("name", sorted(LONG))
def test_scores_grow_with_the_correct_prefix(name):
    ref = LONG[name]
    lines = ref.split("\n")
    steps_ = [step_accuracy("\n".join(lines[:k]), ref) for k in range(len(lines) + 1)]
    rouge = [rouge_n("\n".join(lines[:k]), ref) for k in range(len(lines) + 1)]
    states = [state_accuracy("\n".join(lines[:k]), ref) for k in range(len(lines) + 1)]
    assert steps_ == sorted(steps_) and steps_[0] == 0.0 and steps_[-1] == 1.0
    assert states == sorted(states) and states[0] == 0.0 and states[-1] == 1.0
    assert rouge == sorted(rouge) and rouge[-1] == 1.0
    # each reference step that is right counts the same
    n = len(parse_steps(ref))
    assert steps_ == pytest.approx([len(parse_steps("\n".join(lines[:k]))) / n for k in range(len(lines) + 1)])


def test_one_wrong_value_costs_one_step_and_an_extra_step_costs_no_step():
    ref = LONG["gcd.py"]
    lines = ref.split("\n")
    n = len(lines)
    i = next(k for k, line in enumerate(lines) if "total=3" in line)
    wrong = lines.copy()
    wrong[i] = wrong[i].replace("total=3", "total=4")
    assert step_accuracy("\n".join(wrong), ref) == pytest.approx((n - 1) / n)
    assert 0 < rouge_n("\n".join(wrong), ref) < 1 and exact_match("\n".join(wrong), ref) == 0
    extra = lines[:5] + ["L99 zz=0"] + lines[5:]
    assert step_accuracy("\n".join(extra), ref) == 1.0
    assert rouge_n("\n".join(extra), ref) < 1.0 and exact_match("\n".join(extra), ref) == 0.0


def test_variable_order_and_a_code_fence_do_not_matter_for_steps():
    ref = "L1 a=1, b=[1, 2]\nL2 c='x'"
    assert step_accuracy("L1 b=[1, 2], a=1\nL2 c='x'", ref) == 1.0
    fenced = f"Here is the trace:\n```text\n{ref}\n```\nDone."
    assert score_one(fenced, ref) == dict.fromkeys(METRICS, 1.0)
    assert exact_match(ref.replace("\n", "  \r\n") + "\n\n", ref) == 1.0


def test_metrics_are_bounded_and_rouge_is_symmetric():
    rng = random.Random(3)
    texts = list(REFERENCES.values())
    for _ in range(200):
        a, b = rng.choice(texts), rng.choice(texts)
        lines = a.split("\n")
        a = "\n".join(rng.sample(lines, rng.randint(0, len(lines))))
        for value in score_one(a, b).values():
            assert 0.0 <= value <= 1.0
        assert rouge_n(a, b) == pytest.approx(rouge_n(b, a))


def test_tokenization_is_code_aware_as_documented():
    assert tokenize("L12 x=[1, 2.5], s='a b'") == ["L12", "x", "=", "[", "1", ",", "2.5", "]", ",", "s", "=", "'",
                                                   "a", "b", "'"]
    assert tokenize("L1 call f(n=-3e2)\nout \"ok\\n\"") == ["L1", "call", "f", "(", "n", "=", "-", "3e2", ")",
                                                           "\\n", "out", '"', "ok", "\\", "n", '"']
    assert tokenize("Total=1") != tokenize("total=1")  # case is kept
    # punctuation is content: brackets and quotes change the score
    assert rouge_n("L1 x=[1, 2]", "L1 x=(1, 2)") < 1.0
    assert rouge_n("L1 x='1'", "L1 x=1") < 1.0


def test_short_texts_without_bigrams_compare_whole():
    assert rouge_n("L1", "L1") == 1.0 and rouge_n("L2", "L1") == 0.0 and rouge_n("", "") == 1.0


def _lcs_dp(a, b):
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def test_bit_parallel_lcs_equals_dynamic_programming():
    rng = random.Random(11)
    for _ in range(500):
        a = [rng.randrange(5) for _ in range(rng.randint(0, 30))]
        b = [rng.randrange(5) for _ in range(rng.randint(0, 30))]
        assert lcs_length(a, b) == _lcs_dp(a, b)


def test_only_a_fence_at_the_start_of_a_line_is_a_fence():
    from codealchemy.tracer.render_text import normalize

    ref = 'L1 s=\'```py\'\nout "```py\\n"\nL2'
    assert normalize(ref) == ref and step_accuracy(ref, ref) == 1.0 and len(parse_steps(ref)) == 3
    assert normalize("```\n```") == "" and normalize("```text\nL1\n```\ntrailing words") == "L1"


def test_state_accuracy_scores_each_variable_at_the_kth_visit_of_its_line():
    ref = "L1 a=1, b=2\nL2 a=3\nL1 b=5\nL3 call f(x=1)\nL4 return 2"
    assert state_accuracy(ref, ref) == 1.0
    # one value of five wrong: 4/5, whatever else is right
    assert state_accuracy(ref.replace("b=5", "b=6"), ref) == pytest.approx(4 / 5)
    # the states of a step are compared with that step, not with any step of the same line
    assert state_accuracy("L1 b=5\nL2 a=3\nL1 a=1, b=2\nL3 call f(x=1)", ref) == pytest.approx(2 / 5)
    # a missed step costs its own states only; steps without states (return) and extra ones cost nothing
    assert state_accuracy("L1 a=1, b=2\nL1 b=5\nL3 call f(x=1)\nL9 z=0", ref) == pytest.approx(4 / 5)
    assert state_accuracy("L3 call f(x=2)\nL1 a=1, b=2", ref) == pytest.approx(2 / 5)
    # a reference without variable states is scored by its steps
    assert state_accuracy('out "hi\\n"', 'out "hi\\n"') == 1.0 and state_accuracy("", 'out "hi\\n"') == 0.0


def test_standard_rouge2_is_rouge_scores_own_figure():
    from rouge_score import rouge_scorer

    ref, pred = "L1 x=[1, 2]\nL2 Total=3", "L1 x=(1, 2)\nL2 total=4"
    want = rouge_scorer.RougeScorer(["rouge2"]).score(ref, pred)["rouge2"].fmeasure
    assert rouge2_standard(pred, ref) == pytest.approx(want)
    # its tokenizer drops brackets and case, which the code-token ROUGE-2 keeps
    assert rouge2_standard("L1 x=(1, 2)", "L1 x=[1, 2]") == 1.0 > rouge_n("L1 x=(1, 2)", "L1 x=[1, 2]")
    assert rouge2_standard("```\nL1 x=1\n```", "L1 x=1") == 1.0  # the same normalization as the others


def test_without_rouge_score_the_standard_figure_is_unavailable_not_a_crash(monkeypatch):
    from codealchemy.evals.traceeval.score import score

    monkeypatch.setitem(sys.modules, "rouge_score", None)  # as if not installed
    metrics._standard_scorer.cache_clear()
    try:
        assert rouge2_standard("L1 x=1", "L1 x=1") is None
        got = score([{"id": "a", "reference": "L1 x=1", "language": "python"}], [{"id": "a", "prediction": "L1 x=1"}])
    finally:
        metrics._standard_scorer.cache_clear()
    assert got["rouge2_standard"] is None and got["by_language"]["python"]["rouge2_standard"] is None
    assert "pip install 'codealchemy[eval]'" in got["unavailable"]["rouge2_standard"]
    assert got["exact_match"] == got["rouge2"] == got["state_accuracy"] == 1.0


def test_reasoning_before_the_answer_is_not_scored():
    from codealchemy.evals.traceeval.score import score

    ref = "L1 a=1\nL2 b=2"
    tasks = [{"id": i, "reference": ref, "language": "python"} for i in ("think", "open", "plain")]
    preds = [{"id": "think", "prediction": f"<think>\nThe trace is\n```\nL1 a=9\n```\n</think>\n{ref}"},
             {"id": "open", "prediction": "<think>still thinking, cut by max_tokens"},
             {"id": "plain", "prediction": ref}]
    each: list = []
    score(tasks, preds, per_task=each)
    assert [e["exact_match"] for e in each] == [1.0, 0.0, 1.0]
