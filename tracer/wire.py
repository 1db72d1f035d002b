"""The trace channel: what a prelude writes, and how the host turns it into records.

Every prelude speaks this one protocol, so the host side is written once.

Channel
  The file descriptor named by the environment variable CODEALCHEMY_TRACE_FD (the backends
  pass 3). It is not stdout, so a program cannot forge events by printing. When the variable
  is unset, the prelude turns every probe into a no-op: instrumented code still runs alone.
  Limits come in CODEALCHEMY_MAX_EVENTS (call/line/return/exception records) and
  CODEALCHEMY_MAX_VALUE (characters per rendered value; longer values are cut and end with
  "…"). On reaching the event limit the prelude writes a `t` record and records nothing more;
  the program runs on untouched.

Records
  UTF-8 text, one record per line, fields separated by TAB. Inside a field, backslash, TAB,
  newline and carriage return are written as \\\\, \\t, \\n, \\r.

  c  PROBE FRAME DEPTH [NAME VALUE]...   call; PROBE (kind "call") names the function and its
                                         line; the pairs are the arguments
  l  PROBE FRAME DEPTH [NAME VALUE]...   about to run the statement of PROBE; pairs are values of
                                         variables that may have changed (the host keeps those
                                         that did)
  v  FRAME [NAME VALUE]...               values seen after a statement, shown at the frame's
                                         next event
  r  PROBE FRAME DEPTH [VALUE]           return at PROBE's line; no VALUE: the frame unwound
                                         (an exception left it)
  x  PROBE FRAME DEPTH TYPE MESSAGE      an exception raised in or passing through the frame
  o  STREAM TEXT                         program output, STREAM 1 (stdout) or 2 (stderr), in
                                         true order with the events
  t  REASON                              the prelude stopped recording (max_events)

  FRAME ids are unique within a run; top-level code is frame 1 at DEPTH 0 with func
  "<module>" (in languages without top-level code, main is frame 1 at DEPTH 0). DEPTH counts
  the traced frames below on the same thread.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator

from .records import truncate

_UNESCAPE = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def unescape(field: str) -> str:
    if "\\" not in field:
        return field
    out = []
    i, n = 0, len(field)
    while i < n:
        ch = field[i]
        if ch == "\\" and i + 1 < n:
            out.append(_UNESCAPE.get(field[i + 1], field[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


#: Bytes of channel read at a time: a channel is never split into all its lines at once.
CHUNK = 1 << 16
#: The least memory one field of a record holds once decoded (an empty str object).
FIELD_COST = sys.getsizeof("")


def _size(event: dict) -> int:
    """Roughly what a decoded event (or a dict of values) holds in memory: the budget's measure.
    (Small records become large objects: an 8-byte line record is a ~300-byte dict.)"""
    n = sys.getsizeof(event)
    for value in event.values():
        n += sys.getsizeof(value)
        if isinstance(value, dict):
            n += sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in value.items())
    return n


def _chunks(data: bytes | Iterable[bytes]) -> Iterator[bytes]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)
        for i in range(0, len(view), CHUNK):
            yield bytes(view[i:i + CHUNK])
    else:
        yield from data


class Decoder:
    """Turns channel records into schema-1 events, holding the per-frame variable state.

    Malformed records (a hostile or crashed program can write anything) are counted in
    `dropped`, never raised. `max_bytes` (the max_trace_bytes limit) bounds what decoding
    holds and how long it takes: each record costs the larger of its channel bytes and the
    memory its decoded form holds (`_size`); the record that would pass the budget is not
    kept, decoding stops and `truncated` is "max_trace_bytes".
    """

    def __init__(self, probes: dict, *, max_events: int, max_value: int, max_bytes: int | None = None):
        self.probes = probes
        self.max_events = max_events
        self.max_value = max_value
        self.max_bytes = max_bytes
        self.events = 0
        self.dropped = 0
        self.records = 0          # well-formed records read
        self.cost = 0             # budget spent (see the class docstring)
        self.truncated: str | None = None
        self._seen: dict[int, dict[str, str]] = {}
        self._pending: dict[int, dict[str, str]] = {}
        self._out_stream: str | None = None
        self._out: list[str] = []

    def channel_problem(self) -> tuple[str, str] | None:
        """(flag, note) on the channel of a run whose program ran, or None if nothing is wrong."""
        if self.dropped:
            return "corrupt", (f"trace channel corrupt: {self.dropped} malformed records dropped (garbage "
                               "written to fd 3, or a record cut by a kill)")
        if not self.records and self.probes:
            return "closed_early", ("trace channel closed early: not one record (the program closed or "
                                    "replaced fd 3, or exited before its first probe)")
        return None

    def _spend(self, cost: int) -> bool:
        if self.max_bytes is not None and self.cost + cost > self.max_bytes:
            self.truncated = "max_trace_bytes"
            return False
        self.cost += cost
        return True

    def _pairs(self, fields: list[str]) -> dict[str, str]:
        mv = self.max_value
        return {unescape(fields[i]): truncate(unescape(fields[i + 1]), mv)
                for i in range(0, len(fields) - 1, 2)}

    def _changed(self, frame: int, extra: dict[str, str]) -> dict[str, str]:
        pending = self._pending.pop(frame, None)
        if pending is None:
            pending = extra
        elif extra:
            pending.update(extra)
        seen = self._seen.setdefault(frame, {})
        changed = {k: v for k, v in pending.items() if seen.get(k) != v}
        seen.update(changed)
        return changed

    def _event(self, kind: str, fields: list[str]) -> dict:
        probe = self.probes[int(fields[1])]
        frame = int(fields[2])
        event = {"kind": kind, "func": probe.func, "line": probe.line, "frame": frame,
                 "depth": int(fields[3])}
        if kind == "line":
            event["vars"] = self._changed(frame, self._pairs(fields[4:]))
        elif kind == "call":
            args = self._pairs(fields[4:])
            self._seen.pop(frame, None)
            self._pending[frame] = dict(args)
            event["args"] = args
        elif kind == "return":
            event["value"] = truncate(unescape(fields[4]), self.max_value) if len(fields) > 4 else None
            self._seen.pop(frame, None)
            self._pending.pop(frame, None)
        else:
            event["type"] = unescape(fields[4])
            event["message"] = truncate(unescape(fields[5]), self.max_value)
        return event

    _KINDS = {"c": "call", "l": "line", "r": "return", "x": "exception"}

    def feed(self, data: bytes | Iterable[bytes]) -> Iterator[dict]:
        """Decode a channel (bytes, or byte chunks) chunk by chunk; yields events with adjacent
        output chunks merged, until the end or the first limit reached."""
        rest = bytearray()
        for chunk in _chunks(data):
            cut = chunk.rfind(b"\n")
            if cut < 0:   # inside a long record: it must still fit the budget
                rest += chunk
                if self.max_bytes is not None and self.cost + len(rest) > self.max_bytes:
                    self.truncated = "max_trace_bytes"
                    break
                continue
            rest += chunk[:cut]
            yield from self._lines(rest.split(b"\n"))
            rest = bytearray(chunk[cut + 1:])
            if self.truncated:
                break
        # (what follows the last newline is a record cut short, by the file-size cap or a kill)
        if self._out:
            yield self._output()

    def _output(self) -> dict:
        event = {"kind": "output", "stream": self._out_stream, "text": "".join(self._out)}
        self._out_stream, self._out = None, []
        return event

    def _lines(self, lines: list[bytearray]) -> Iterator[dict]:
        for raw in lines:
            if self.truncated:
                return
            if not raw:
                continue
            # what decoding it would hold for a moment (a string per field): past the budget, stop first
            if self.max_bytes is not None and self.cost + len(raw) + FIELD_COST * raw.count(9) > self.max_bytes:
                self.truncated = "max_trace_bytes"
                return
            fields = raw.decode("utf-8", "replace").split("\t")
            tag = fields[0]
            try:
                if tag == "o":
                    stream = "stdout" if fields[1] == "1" else "stderr"
                    text = unescape(fields[2])
                    if stream != self._out_stream and self._out:
                        yield self._output()
                    new = 0 if self._out else _size({"kind": "output", "stream": stream, "text": ""})
                    if not self._spend(max(len(raw), sys.getsizeof(text) + new)):
                        return
                    self.records += 1
                    self._out_stream = stream
                    self._out.append(text)
                    continue
                if tag == "v":
                    pairs = self._pairs(fields[2:])
                    frame = int(fields[1])
                    if not self._spend(max(len(raw), _size(pairs))):
                        return
                    self.records += 1
                    self._pending.setdefault(frame, {}).update(pairs)
                    continue
                if tag == "t":
                    self.records += 1
                    self.truncated = fields[1] if len(fields) > 1 else "max_events"
                    continue
                event = self._event(self._KINDS[tag], fields)
            except (KeyError, IndexError, ValueError):
                self.dropped += 1
                if not self._spend(len(raw)):
                    return
                continue
            self.records += 1
            if self._out:
                yield self._output()
            if self.events >= self.max_events:
                self.truncated = "max_events"
                return
            if not self._spend(max(len(raw), _size(event))):
                return
            self.events += 1
            yield event
