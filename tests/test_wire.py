from codealchemy.tracer.instrument import Probe
from codealchemy.tracer.wire import Decoder, escape, unescape

PROBES = {0: Probe(0, "call", 1, "f"), 1: Probe(1, "line", 2, "f"), 2: Probe(2, "line", 3, "f"),
          3: Probe(3, "line", 9, "<module>")}


def decode(text, **kw):
    d = Decoder(PROBES, max_events=kw.get("max_events", 100), max_value=kw.get("max_value", 50))
    return list(d.feed(text.encode())), d


def test_escape_round_trip():
    s = "a\tb\nc\\d\re"
    assert "\t" not in escape(s) and "\n" not in escape(s)
    assert unescape(escape(s)) == s


def test_first_event_of_a_frame_shows_all_then_only_changes():
    events, _ = decode("c\t0\t2\t1\ta\t1\tb\t2\nl\t1\t2\t1\nv\t2\ta\t1\tb\t5\nl\t2\t2\t1\nr\t2\t2\t1\t5\n")
    call, first, second, ret = events
    assert call["args"] == {"a": "1", "b": "2"}
    assert first["vars"] == {"a": "1", "b": "2"} and first["line"] == 2 and first["func"] == "f"
    assert second["vars"] == {"b": "5"}
    assert ret["value"] == "5" and ret["kind"] == "return"


def test_unwinding_return_has_no_value_and_exceptions_carry_type_and_message():
    events, _ = decode("c\t0\t2\t1\nx\t1\t2\t1\tValueError\tbad\\tthing\nr\t1\t2\t1\n")
    assert events[1] == {"kind": "exception", "func": "f", "line": 2, "frame": 2, "depth": 1,
                         "type": "ValueError", "message": "bad\tthing"}
    assert events[2]["value"] is None


def test_output_chunks_merge_in_order_between_events():
    events, _ = decode("o\t1\tab\no\t1\tc\\n\no\t2\terr\nl\t3\t1\t0\no\t1\tz\n")
    assert [(e["kind"], e.get("text")) for e in events] == [
        ("output", "abc\n"), ("output", "err"), ("line", None), ("output", "z")]


def test_malformed_records_are_counted_not_raised():
    events, d = decode("l\t99\t1\t0\nzz\nl\tx\t1\nl\t3\t1\t0\n\xff\n")
    assert len(events) == 1 and d.dropped == 4


def test_event_limit_truncates_and_says_so():
    events, d = decode("l\t3\t1\t0\n" * 10, max_events=4)
    assert len(events) == 4 and d.truncated == "max_events" and d.events == 4


def test_prelude_truncation_record_and_long_values():
    events, d = decode("l\t3\t1\t0\tx\t" + "9" * 80 + "\nt\tmax_events\nl\t3\t1\t0\n", max_value=10)
    assert len(events) == 1 and d.truncated == "max_events"
    assert len(events[0]["vars"]["x"]) == 10 and events[0]["vars"]["x"].endswith("…")
