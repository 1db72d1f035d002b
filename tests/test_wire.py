from codealchemy.tracer.instrument import Probe
from codealchemy.tracer.wire import CHUNK, Decoder, escape, unescape

PROBES = {0: Probe(0, "call", 1, "f"), 1: Probe(1, "line", 2, "f"), 2: Probe(2, "line", 3, "f"),
          3: Probe(3, "line", 9, "<module>")}


def decode(text, **kw):
    d = Decoder(PROBES, max_events=kw.get("max_events", 100), max_value=kw.get("max_value", 50),
                max_bytes=kw.get("max_bytes"))
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


def test_byte_budget_bounds_what_decoding_holds_and_says_so():
    """Small records become large objects (an output record of 7 bytes is a ~230-byte event):
    the budget bounds the decoded events, not only the channel's bytes."""
    import tracemalloc

    data = b"o\t1\tab\no\t2\tcd\n" * 400_000     # 5.6 MB of channel, 800k output events uncapped
    budget = 4 << 20
    tracemalloc.start()
    try:
        d = Decoder(PROBES, max_events=100, max_value=50, max_bytes=budget)
        events = list(d.feed(data))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert d.truncated == "max_trace_bytes" and d.cost <= budget
    assert 1000 < len(events) < 800_000
    assert events[-1] == {"kind": "output", "stream": "stdout" if len(events) % 2 else "stderr",
                          "text": "ab" if len(events) % 2 else "cd"}
    assert peak < 2 * budget + 2 * CHUNK, f"decoding held {peak >> 20} MiB for a {budget >> 20} MiB budget"


def test_a_record_longer_than_the_budget_stops_decoding_before_it_is_split():
    import tracemalloc

    data = b"l\t3\t1\t0" + b"\tk\t1" * 3_000_000 + b"\n"     # 12 MB, 6M fields
    tracemalloc.start()
    try:
        d = Decoder(PROBES, max_events=100, max_value=50, max_bytes=8 << 20)
        assert list(d.feed(data)) == [] and d.truncated == "max_trace_bytes"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * (8 << 20)    # (split, its 6M fields would hold some 300 MB)


def test_events_before_the_budget_are_kept_whole():
    events, d = decode("l\t3\t1\t0\tx\t1\n" * 50, max_bytes=3000)
    assert d.truncated == "max_trace_bytes" and 0 < len(events) < 50
    assert all(e["line"] == 9 for e in events) and d.events == len(events)


def test_channel_problems_are_named():
    _, empty = decode("")
    assert empty.channel_problem()[0] == "closed_early"
    _, forged = decode("l\t3\t1\t0\n\xff garbage\n")
    assert forged.channel_problem()[0] == "corrupt" and "1 malformed" in forged.channel_problem()[1]
    _, fine = decode("l\t3\t1\t0\n")
    assert fine.channel_problem() is None
    no_probes = Decoder({}, max_events=10, max_value=10)
    assert list(no_probes.feed(b"")) == [] and no_probes.channel_problem() is None


def test_a_record_cut_at_the_end_is_not_decoded():
    events, d = decode("l\t3\t1\t0\nl\t3\t1\t0\tx\t12")
    assert len(events) == 1 and d.dropped == 0 and "x" not in events[0]["vars"]
