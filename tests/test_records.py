import io

import pytest

from codealchemy.tracer import records


def _trace(n=3):
    head = records.header(language="python", source="a.py", sha256="0" * 64, instrumenter={"id": "python"},
                          limits={"max_events": 10}, tool="t")
    events = [{"kind": "line", "func": "<module>", "line": i + 1, "frame": 1, "depth": 0, "vars": {"x": str(i)}}
              for i in range(n)]
    events.append({"kind": "output", "stream": "stdout", "text": "héllo\n"})
    return [head, *events, records.footer(status="ok", exit_code=0, events=n)]


def test_round_trip_preserves_every_record():
    buf = io.BytesIO()
    records.write(_trace(), buf)
    buf.seek(0)
    assert list(records.read(buf)) == _trace()


def test_unknown_fields_are_kept_and_unknown_kinds_rejected():
    trace = _trace()
    trace[1]["future_field"] = [1, 2]
    buf = io.BytesIO()
    records.write(trace, buf)
    buf.seek(0)
    assert list(records.read(buf))[1]["future_field"] == [1, 2]
    with pytest.raises(records.RecordError, match="unknown record kind"):
        records.validate({"kind": "teleport"})
    with pytest.raises(records.RecordError, match="lacks vars"):
        records.validate({"kind": "line", "func": "f", "line": 1, "frame": 1, "depth": 0})


def test_other_schema_versions_are_refused():
    head = _trace()[0] | {"schema": 2}
    with pytest.raises(records.RecordError, match="schema 2"):
        records.validate(head)


def test_truncate_marks_the_cut_and_respects_the_limit():
    assert records.truncate("abc", 5) == "abc"
    cut = records.truncate("x" * 100, 10)
    assert len(cut) == 10 and cut.endswith(records.TRUNCATION_MARKER)


def test_a_stream_cut_short_is_an_error_not_a_silent_loss():
    trace = _trace()
    assert list(records.split_traces(trace + trace)) == [trace, trace]
    with pytest.raises(records.RecordError, match="without footer"):
        list(records.split_traces(trace[:-1]))


def test_footer_refuses_statuses_outside_the_closed_set():
    with pytest.raises(ValueError):
        records.footer(status="kinda_ok")


def test_dump_shards_and_index(tmp_path):
    with records.DumpWriter(tmp_path, shard="s0") as w:
        w.add(_trace(2))
        w.add(_trace(5))
    with records.DumpWriter(tmp_path, shard="s1") as w:
        w.add(_trace(1))
    index = records.dump_index(tmp_path)
    assert [e["events"] for e in index] == [2, 5, 1]
    assert records.dump_trace(tmp_path, index[1]) == _trace(5)
    assert not list(tmp_path.glob(".*.tmp"))
