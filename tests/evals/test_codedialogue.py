"""CodeDialogue against the real small model (llama.cpp serving SmolLM2-135M): the mechanics of
turns, rows, provenance and failures (the model's prose is poor and is not judged)."""

from __future__ import annotations

import json
import socket

from test_cli import trace

from codealchemy.strategies.codedialogue import PROMPTS, CodeDialogue
from codealchemy.tracer.contracts import prompt_version
from codealchemy.tracer.generators import GenerationParams
from codealchemy.tracer.generators.openai import OpenAIGenerator
from codealchemy.tracer.testing import SMALL_PROGRAMS, check_rows, inputs


def _turns(text: str) -> int:
    assert text.startswith("User:\n")
    return text.count("\n\nAssistant:\n")


def test_each_conversation_is_one_row_of_model_turns(small_model, small_corpus):
    strategy = CodeDialogue(turns=2)
    strategy.load(small_model, GenerationParams(max_tokens=24))
    try:
        got = check_rows(strategy.process(inputs(small_corpus, CodeDialogue.consumes)))
    finally:
        strategy.unload()
    assert len(got) == len(SMALL_PROGRAMS)
    for r in got:
        if r["status"] != "ok":   # the small model may say nothing as the user: a kept failure, not a drop
            assert r["status"] == "empty_turn" and "last_output" in json.loads(r["raw_output"])
            continue
        assert r["turns"] == 2 and _turns(r["text"]) == 2
        code = SMALL_PROGRAMS[r["source_id"].rsplit("/", 1)[-1]].rstrip("\n")
        first_user = r["text"].split("\n\nAssistant:\n", 1)[0]
        assert code in first_user                  # the seed file is in the first turn
        assert len(json.loads(r["raw_output"])) == 2   # the model's answers, as it gave them
        assert (r["strategy"], r["generator"], r["model"]) == ("codedialogue", "openai", small_model.model)
        assert r["prompt_version"] == prompt_version(PROMPTS, "codedialogue")
    assert sum(r["status"] == "ok" for r in got) >= 1


def test_a_failed_model_call_is_a_failure_row(small_corpus):
    with socket.socket() as s:   # a port nobody listens on: every call is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gen = OpenAIGenerator(model="none", base_url=f"http://127.0.0.1:{port}/v1", api_key="", max_attempts=1,
                          timeout=5)
    strategy = CodeDialogue(turns=1)
    strategy.load(gen, GenerationParams(max_tokens=8))
    got = check_rows(strategy.process(inputs(small_corpus, CodeDialogue.consumes)))
    assert len(got) == len(SMALL_PROGRAMS)
    assert {r["status"] for r in got} == {"generation_error"} and all(r["reason"] for r in got)


def test_trace_gen_codedialogue_from_a_corpus_and_a_dump(small_model_args, small_corpus, small_dump, tmp_path):
    for source, name in ((small_corpus, "corpus.jsonl"), (small_dump, "dump.parquet")):
        r = trace("gen", "codedialogue", source, *small_model_args, "--param", "max_tokens=16", "--turns", "1",
                  "--out", name, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        good = check_rows(tmp_path / name)
        assert good and all(x["strategy"] == "codedialogue" and _turns(x["text"]) == 1 for x in good)
        summary = json.loads((tmp_path / f"{name}.summary.json").read_text())
        assert summary["rows"] == len(SMALL_PROGRAMS)
        assert summary["by_language"]["python"]["rows"] == len(SMALL_PROGRAMS)
    from_dump = check_rows(tmp_path / "dump.parquet")
    assert all(x["trace_id"] and x["source_sha256"] for x in from_dump)   # provenance from the trace header
    r = trace("gen", "codedialogue", small_corpus, "--out", "x.jsonl", cwd=tmp_path)
    assert r.returncode == 2 and "--generator" in r.stderr
