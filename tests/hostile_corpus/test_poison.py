"""Poison inputs and interruptions: every input still ends with exactly one record.

An exception on one input is that input's failure; a shard is marked done only when each of
its inputs has its record, so Ctrl-C, SIGTERM or a crash mid-shard leaves the shard for the
resume to redo instead of losing the inputs it had not reached.
"""

from __future__ import annotations

import json
import signal

import pytest


def test_poison_rows_are_failures_and_the_rest_is_traced(tmp_path, batch, index):
    nested = "[" * 100_000 + "]" * 100_000
    lines = [json.dumps({"content": "print(1)\n", "language": {"name": "python"}, "path": "dict_lang.py"}),
             json.dumps({"content": "print(2)\n", "language": 3, "path": "int_lang.py"}),
             json.dumps({"content": "print(3)\n", "language": ["python"], "path": "list_lang.py"}),
             '{"content": "print(4)\\n", "path": "nested.py", "extra": ' + nested + "}",
             json.dumps({"content": "print(5)\n", "language": "python", "path": "fine.py"}),
             json.dumps({"content": "print(6)\n", "language": "python", "path": 12345})]
    (tmp_path / "rows.jsonl").write_text("\n".join(lines) + "\n")
    done = batch(tmp_path / "rows.jsonl", "--out", tmp_path / "dump", "--shard-size", "2")
    assert done.returncode == 0, done.stderr.decode()
    got = {e["source"]: e for e in index(tmp_path / "dump")}
    assert len(got) == len(lines)
    for name in ("dict_lang.py", "int_lang.py", "list_lang.py"):
        assert got[name]["status"] == "input_error" and "not a string" in got[name]["reason"]
    nested_row = got[f"{tmp_path / 'rows.jsonl'}#3"]
    assert nested_row["status"] == "input_error" and "not a JSON object" in nested_row["reason"]
    assert got["fine.py"]["status"] == got["12345"]["status"] == "ok"


def test_a_program_that_makes_a_5000_deep_tree_is_one_record_and_the_shard_goes_on(tmp_path, batch, index):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a_deep.py").write_text("import os\nfor _ in range(5000):\n    os.mkdir('d')\n    os.chdir('d')\n")
    (corpus / "b_fine.py").write_text("print('after the deep one')\n")
    done = batch(corpus, "--out", tmp_path / "dump", "--shard-size", "2")
    assert done.returncode == 0, done.stderr.decode()
    got = {e["source"]: e for e in index(tmp_path / "dump")}
    assert sorted(got) == [str(corpus / "a_deep.py"), str(corpus / "b_fine.py")]
    assert got[str(corpus / "b_fine.py")]["status"] == "ok"
    deep = got[str(corpus / "a_deep.py")]
    assert deep["status"] == "ok" or deep["reason"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_signalled_batch_leaves_half_done_shards_unmarked(tmp_path, batch, index, interrupted, slow_corpus, sig):
    inputs = slow_corpus(tmp_path / "corpus")
    dump = tmp_path / "dump"
    code, _ = interrupted([tmp_path / "corpus", "--out", dump, "--workers", "2", "--shard-size", "4"], sig,
                          group=True)
    assert code != 0
    partial = index(dump)
    assert 0 < len(partial) < len(inputs), "the signal must land mid-run for this test to mean anything"
    assert len(partial) % 4 == 0       # whole shards only
    resumed = batch(tmp_path / "corpus", "--out", dump, "--workers", "2", "--shard-size", "4")
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert sorted(e["source"] for e in index(dump)) == inputs
