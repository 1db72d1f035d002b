"""The codealchemy.testing helpers for plugin authors: a real small dump, inputs, the row checker."""

from __future__ import annotations

import pytest

from codealchemy.tracer import records, rows
from codealchemy.tracer.contracts import Input
from codealchemy.tracer.testing import SMALL_PROGRAMS, check_rows, inputs


def test_small_dump_is_real_traces_of_the_small_programs(small_dump):
    index = records.dump_index(small_dump)
    assert sorted(e["source"].rsplit("/", 1)[-1] for e in index) == sorted(SMALL_PROGRAMS)
    assert {e["status"] for e in index} == {"ok", "runtime_error"}   # crash.py divides by zero
    got = inputs(small_dump)
    assert all(i.kind == "trace" and i.records and i.code in SMALL_PROGRAMS.values() for i in got)


def test_inputs_of_a_corpus(small_corpus):
    got = {i.path.rsplit("/", 1)[-1]: i for i in inputs(small_corpus, ("sources",))}
    assert set(got) == set(SMALL_PROGRAMS)
    assert all(i.kind == "source" and i.language == "python" and i.code == SMALL_PROGRAMS[n] for n, i in got.items())
    with pytest.raises(Exception, match="reads traces"):
        inputs(small_corpus, ("traces",))


def test_check_rows_fails_on_a_bad_row_and_reads_files(tmp_path):
    inp = Input(id="a.py", kind="source", language="python", code="x = 1\n", sha256="0" * 64)
    good = rows.row(inp, "demo", None, rows.turn_text("q", "a"))
    assert check_rows([good]) == [good]
    with pytest.raises(AssertionError, match="row 1: len_text"):
        check_rows([good, {**good, "len_text": 0}])
    rows.write_jsonl([good], tmp_path / "r.jsonl")
    assert check_rows(tmp_path / "r.jsonl") == [good]
    pytest.importorskip("pyarrow", reason="pyarrow is not installed (codealchemy[parquet])")
    rows.write_rows([good], tmp_path / "r.parquet", "parquet")
    assert check_rows(tmp_path / "r.parquet") == [good]
