"""DevEval: the verdict parser, the two orders, the verdicts' ties to what they judged and the
interval (unit tests of logic), and the whole benchmark through `trace eval deveval
build|predict|judge|score` with the real small model (llama.cpp serving SmolLM2-135M) as
reference writer, candidate and judge. Its verdicts are poor, but constrained decoding makes
every one parse; the end-to-end test checks the mechanics, not the figures."""

from __future__ import annotations

import hashlib
import json
import math

import pytest
from test_cli import trace

from codealchemy.evals.deveval import DevEval, read_held_out
from codealchemy.evals.deveval.judge import CHOICES, ORDERS, VerdictError, candidate_result, judge, parse_verdict
from codealchemy.evals.deveval.score import bootstrap_interval, summarize
from codealchemy.tracer.generators import Completion, GenerationParams

SEEDS = {
    "fib.py": "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n"
              "print(fib(10))\n",
    "words.py": "text = 'the cat saw the dog'\ncounts = {}\nfor w in text.split():\n"
                "    counts[w] = counts.get(w, 0) + 1\nprint(sorted(counts.items()))\n",
    "sum.js": "function sum(xs) {\n  let t = 0;\n  for (const x of xs) t += x;\n  return t;\n}\n"
              "console.log(sum([1, 2, 3]));\n",
    "max.c": "#include <stdio.h>\nint max(int a, int b) { return a > b ? a : b; }\n"
             "int main(void) {\n  printf(\"%d\\n\", max(3, 7));\n  return 0;\n}\n",
    "tiny.py": "print(1)\n",     # shorter than min_source_lines: left out
}


@pytest.mark.parametrize(("text", "verdict"), [
    ("A is shorter and right.\nVERDICT: A", "A"),
    ("VERDICT: B\n", "B"),
    ("Both are equally good.\n\nVERDICT: TIE  \n", "TIE"),
])
def test_a_well_formed_final_verdict_line_parses(text, verdict):
    assert parse_verdict(text) == verdict


@pytest.mark.parametrize(("text", "why"), [
    ("A is better.", "no verdict line"),
    ("VERDICT: A\nVERDICT: B", "2 verdict lines"),
    ("VERDICT: A\nbecause it is shorter", "not the last line"),
    ("**VERDICT: A**", "malformed"),
    ("verdict: a", "malformed"),
    ("VERDICT: A or B", "malformed"),
    ("", "no verdict line"),
])
def test_anything_else_is_a_parse_failure(text, why):
    with pytest.raises(VerdictError, match=why):
        parse_verdict(text)


def test_verdicts_are_turned_into_the_candidates_result_by_order():
    assert [candidate_result("candidate_first", v) for v in ("A", "B", "TIE")] == [1.0, 0.0, 0.5]
    assert [candidate_result("reference_first", v) for v in ("A", "B", "TIE")] == [0.0, 1.0, 0.5]


class Scripted:
    """A judge double: compares with `compare(prompt)`, then gives the verdict `answer(prompt)`
    (the prompt: the conversation's first message; None: the call fails); records what it was asked."""

    name, model = "scripted", "scripted"

    def __init__(self, answer, compare=lambda p: "A gets it right, B does not."):
        self.answer, self.compare, self.asked = answer, compare, []

    def generate(self, requests, params):
        self.asked.extend(requests)
        said = [(self.compare if len(r.messages) == 1 else self.answer)(r.messages[0]["content"]) for r in requests]
        return [Completion(r.id, text=t) if t is not None else Completion.failed(r.id, "boom")
                for r, t in zip(requests, said, strict=True)]


TASK = {"id": "python-explain-1", "prompt": "Explain fib.", "reference": "REFERENCE ANSWER",
        "language": "python", "kind": "explain"}


def _first(prompt: str) -> str:
    return prompt.split("[Answer A]\n", 1)[1].split("\n", 1)[0]


def test_both_orders_are_compared_then_decided_constrained_to_the_verdicts_and_a_position_bias_is_a_tie():
    gen = Scripted(lambda p: "VERDICT: A", compare=lambda p: f"{_first(p)} is better.")
    [j] = judge([(TASK, "CANDIDATE ANSWER")], gen, GenerationParams(max_tokens=200))
    compared, decided = gen.asked[:2], gen.asked[2:]
    assert [_first(r.messages[0]["content"]) for r in gen.asked] == ["CANDIDATE ANSWER", "REFERENCE ANSWER"] * 2
    assert all(r.choices is None and len(r.messages) == 1 for r in compared)
    # the verdict is asked after the judge's own comparison, told back to it, under the constraint
    assert [r.messages[1] for r in decided] == [{"role": "assistant", "content": f"{a} is better."}
                                                for a in ("CANDIDATE ANSWER", "REFERENCE ANSWER")]
    assert all(r.choices == CHOICES and "Now your verdict" in r.messages[2]["content"] for r in decided)
    assert all(parse_verdict(c) == c.split()[-1] for c in CHOICES)
    assert [r.id for r in gen.asked] == [f"python-explain-1/{o}" for o in ORDERS] * 2
    assert j.result == 0.5 and j.failure is None
    assert {o: j.orders[o]["verdict"] for o in ORDERS} == {"candidate_first": "A", "reference_first": "A"}
    assert j.orders["reference_first"]["comparison"] == "REFERENCE ANSWER is better."


def test_a_judge_that_prefers_the_candidate_in_both_orders_gives_a_win():
    gen = Scripted(lambda p: "VERDICT: A" if _first(p) == "CANDIDATE ANSWER" else "VERDICT: B")
    [j] = judge([(TASK, "CANDIDATE ANSWER")], gen, GenerationParams())
    assert j.result == 1.0


def test_an_unparsed_or_failed_order_leaves_the_task_unscored_with_the_raw_output():
    gen = Scripted(lambda p: "I like A." if _first(p) == "CANDIDATE ANSWER" else None)
    [j] = judge([(TASK, "CANDIDATE ANSWER")], gen, GenerationParams())
    assert j.result is None
    assert j.orders["candidate_first"]["raw"] == "I like A."
    assert "unparsed verdict: no verdict line" in j.orders["candidate_first"]["error"]
    assert "judge call failed: boom" in j.orders["reference_first"]["error"]
    # a comparison that fails is that order's failure, and no verdict is asked after it
    gen = Scripted(lambda p: "VERDICT: B", compare=lambda p: None if _first(p) == "CANDIDATE ANSWER" else "ok")
    [j] = judge([(TASK, "CANDIDATE ANSWER")], gen, GenerationParams())
    assert j.result is None and "judge call failed: boom" in j.orders["candidate_first"]["error"]
    assert j.orders["reference_first"]["verdict"] == "B" and len(gen.asked) == 3


def test_score_counts_failed_judging_apart_and_a_failed_prediction_as_a_loss():
    tasks = [dict(TASK, id=f"t{i}", language=lang) for i, lang in enumerate(["python", "python", "c"])]
    preds = [{"id": "t0", "prediction": "good"}, {"id": "t1", "prediction": "bad"},
             {"id": "t2", "prediction": "", "error": "timeout"}]

    def answer(prompt):
        if "bad" in prompt:
            return "no idea"
        return "VERDICT: A" if _first(prompt) == "good" else "VERDICT: B"

    gen = Scripted(answer)
    each: list = []
    verdicts = DevEval().judge(tasks, preds, gen, GenerationParams())
    assert len(gen.asked) == 8       # the failed prediction is not judged (2 orders, 2 turns each)
    assert all(v["judge"] == {"generator": "scripted", "model": "scripted", "params": GenerationParams().to_dict()}
               for v in verdicts)
    got = DevEval().score(tasks, preds, verdicts=verdicts, per_task=each)
    assert (got["n"], got["judge_failed"], got["win_rate"]) == (2, 1, 0.5)   # t0 a win, t2 a loss
    assert got["by_language"]["python"]["n"] == 1 and got["by_language"]["python"]["judge_failed"] == 1
    assert got["by_language"]["c"]["win_rate"] == 0.0 and got["by_kind"]["explain"]["n"] == 2
    assert [e["id"] for e in each] == ["t0", "t1", "t2"] and "timeout" in each[2]["note"]


def test_the_bootstrap_interval_holds_the_mean_and_narrows_with_more_tasks():
    assert bootstrap_interval([1.0] * 5) == (1.0, 1.0)
    small = bootstrap_interval([1.0, 0.0] * 5)
    large = bootstrap_interval([1.0, 0.0] * 200)
    assert small[0] < 0.5 < small[1] and large[0] < 0.5 < large[1]
    assert large[1] - large[0] < small[1] - small[0]
    assert all(math.isnan(v) for v in bootstrap_interval([]))
    assert math.isnan(summarize([], 2)["win_rate"]) and summarize([], 2)["judge_failure_rate"] == 1.0


def test_verdicts_must_be_of_these_predictions_and_references_and_of_one_judge():
    tasks = [dict(TASK, id=f"t{i}") for i in range(2)]
    preds = [{"id": "t0", "prediction": "good"}, {"id": "t1", "prediction": "<think>hm</think>\ngood"}]
    verdicts = DevEval().judge(tasks, preds, Scripted(lambda p: "VERDICT: TIE"), GenerationParams())
    assert verdicts[0]["prediction_sha256"] == verdicts[1]["prediction_sha256"]  # reasoning is not the answer
    assert DevEval().score(tasks, preds, verdicts=verdicts)["win_rate"] == 0.5
    with pytest.raises(ValueError, match="needs the verdicts"):
        DevEval().score(tasks, preds)
    other = [dict(preds[0], prediction="better"), preds[1]]
    with pytest.raises(ValueError, match="'t0' judged another prediction"):
        DevEval().score(tasks, other, verdicts=verdicts)
    with pytest.raises(ValueError, match="'t1' judged another reference"):
        DevEval().score([tasks[0], dict(tasks[1], reference="new")], preds, verdicts=verdicts)
    with pytest.raises(ValueError, match="no prediction for task id 't1'"):
        DevEval().score(tasks, preds, verdicts=verdicts[:1])
    mixed = [verdicts[0], dict(verdicts[1], judge={"generator": "x", "model": "y", "params": {}})]
    with pytest.raises(ValueError, match="2 different judges"):
        DevEval().score(tasks, preds, verdicts=mixed)


def test_build_needs_the_held_out_manifest_and_the_reference_writer(tmp_path):
    (tmp_path / "seeds").mkdir()
    for name, code in SEEDS.items():
        (tmp_path / "seeds" / name).write_text(code)
    r = trace("eval", "deveval", "build", "seeds", "--out", "tasks.jsonl", cwd=tmp_path)
    assert r.returncode == 2
    assert "--held-out, --reference-generator" in r.stdout + r.stderr
    assert not (tmp_path / "tasks.jsonl").exists()


def test_deveval_end_to_end_with_the_small_model(small_model_args, llama_server, tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name, code in SEEDS.items():
        (seeds / name).write_text(code)
    server = f"base_url={llama_server.base_url},model={llama_server.model},api_key="
    r = trace("eval", "deveval", "build", seeds, "--out", "tasks.jsonl", "--held-out", "heldout.jsonl",
              "--reference-generator", "openai", "--reference-options", server,
              "--reference-params", "max_tokens=40", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "left out 1: fewer than 3 lines" in r.stderr
    tasks = [json.loads(line) for line in (tmp_path / "tasks.jsonl").read_text().splitlines()]
    assert {t["language"] for t in tasks} == {"python", "javascript", "c"} and len(tasks) == 4
    assert {t["kind"] for t in tasks if t["language"] == "python"} == {"explain", "refactor"}
    for t in tasks:
        assert t["reference"].strip() and SEEDS[t["source_id"].rsplit("/", 1)[-1]].rstrip("\n") in t["prompt"]
        assert t["reference_generator"]["generator"] == "openai"
    want = {hashlib.sha256(c.encode()).hexdigest() for n, c in SEEDS.items() if n != "tiny.py"}
    assert read_held_out(tmp_path / "heldout.jsonl") == want == {t["sha256"] for t in tasks}

    r = trace("eval", "deveval", "predict", "tasks.jsonl", *small_model_args, "--param", "max_tokens=24",
              "--out", "preds.jsonl", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    # the judge: the same server, told that it takes llama.cpp's grammar, so every verdict parses
    r = trace("eval", "deveval", "judge", "tasks.jsonl", "preds.jsonl", *small_model_args, "--option", "constrain=gbnf",
              "--param", "max_tokens=8", "--out", "verdicts.jsonl", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    r = trace("eval", "deveval", "score", "tasks.jsonl", "preds.jsonl", "--verdicts", "verdicts.jsonl", "--json",
              "--per-task", "judged.jsonl", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.loads(r.stdout)
    judged = [json.loads(line) for line in (tmp_path / "judged.jsonl").read_text().splitlines()]
    assert len(judged) == 4 and (got["n"], got["judge_failed"]) == (4, 0), judged
    assert got["judge"]["generator"] == "openai" and got["judge"]["params"]["max_tokens"] == 8
    for j in judged:
        assert set(j["orders"]) == set(ORDERS)
        for entry in j["orders"].values():
            assert "raw" in entry and (("verdict" in entry) != ("error" in entry))
        assert (j["result"] is None) == (j["failure"] is not None)
    assert set(got["by_language"]) == {"python", "javascript", "c"}
    assert set(got["by_kind"]) == {"explain", "refactor"}
    assert got["ci_low"] <= got["win_rate"] <= got["ci_high"]
    table = trace("eval", "deveval", "score", "tasks.jsonl", "preds.jsonl", "--verdicts", "verdicts.jsonl",
                  cwd=tmp_path)
    assert table.returncode == 0 and "win rate" in table.stdout and "javascript" in table.stdout
    bare = trace("eval", "deveval", "score", "tasks.jsonl", "preds.jsonl", cwd=tmp_path)
    assert bare.returncode == 2 and "--verdicts" in bare.stdout + bare.stderr


def test_build_with_default_generator_options_reaches_the_reference_writer(tmp_path):
    (tmp_path / "seeds").mkdir()
    for name, code in SEEDS.items():
        (tmp_path / "seeds" / name).write_text(code)
    (tmp_path / "none.jsonl").write_text("")
    r = trace("eval", "deveval", "build", "seeds", "--out", "tasks.jsonl", "--held-out", "heldout.jsonl",
              "--reference-generator", "file", "--reference-options", "path=none.jsonl",
              cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr        # every reference failed: no task, each one said
    assert r.stderr.count("left out 1: reference failed: none.jsonl has no completion") == 4, r.stderr
    assert len(read_held_out(tmp_path / "heldout.jsonl")) == 4


def test_the_held_out_manifest_decontaminates_training_rows(tmp_path):
    from codealchemy.tracer.dedup import decontaminate, load_references

    (tmp_path / "seeds").mkdir()
    for name, code in SEEDS.items():
        (tmp_path / "seeds" / name).write_text(code)
    (tmp_path / "none.jsonl").write_text("")
    trace("eval", "deveval", "build", "seeds", "--out", "tasks.jsonl", "--held-out", "heldout.jsonl",
          "--reference-generator", "file", "--reference-options", "path=none.jsonl", cwd=tmp_path)
    fib = hashlib.sha256(SEEDS["fib.py"].encode()).hexdigest()
    rows = [{"text": "a", "source_sha256": fib},                                      # the seed itself
            {"text": "b", "raw": SEEDS["sum.js"].replace("sum", "total")},            # its near copy
            {"text": "c", "raw": "import os\nprint(os.getcwd())\n" * 3}]             # another program
    got = decontaminate(rows, load_references([tmp_path / "heldout.jsonl"]))
    assert [r["text"] for r in got.kept] == ["c"] and len(got.removed) == 2


def test_a_held_out_manifest_that_is_not_json_lines_is_refused(tmp_path):
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "fib.py").write_text(SEEDS["fib.py"])
    r = trace("eval", "deveval", "build", "seeds", "--out", "tasks.jsonl", "--held-out", "heldout.txt",
              "--reference-generator", "file", "--reference-options", "path=x", cwd=tmp_path)
    assert r.returncode == 2 and "name it NAME.jsonl" in r.stdout + r.stderr


def test_only_a_benchmark_that_defines_judge_gets_the_judge_phase(tmp_path):
    from codealchemy.evals.traceeval import TraceEval
    from codealchemy.tracer.contracts import has_judge

    assert has_judge(DevEval) and not has_judge(TraceEval)
    assert "judge" in trace("eval", "deveval", "--help", cwd=tmp_path).stdout
    r = trace("eval", "traceeval", "judge", "t.jsonl", "p.jsonl", "--generator", "file", "--out", "v", cwd=tmp_path)
    assert r.returncode == 2 and "No such command 'judge'" in r.stdout + r.stderr
