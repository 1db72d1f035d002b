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

from collections.abc import Iterator

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


class Decoder:
    """Turns channel records into schema-1 events, holding the per-frame variable state.

    Malformed records (a hostile or crashed program can write anything) are counted in
    `dropped`, never raised.
    """

    def __init__(self, probes: dict, *, max_events: int, max_value: int):
        self.probes = probes
        self.max_events = max_events
        self.max_value = max_value
        self.events = 0
        self.dropped = 0
        self.truncated: str | None = None
        self._seen: dict[int, dict[str, str]] = {}
        self._pending: dict[int, dict[str, str]] = {}

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

    def feed(self, data: bytes) -> Iterator[dict]:
        """Decode a whole channel; yields events with adjacent output chunks merged."""
        out_stream, out_text = None, []
        for raw in data.split(b"\n"):
            if not raw or self.truncated:
                continue
            fields = raw.decode("utf-8", "replace").split("\t")
            tag = fields[0]
            try:
                if tag == "o":
                    stream = "stdout" if fields[1] == "1" else "stderr"
                    if stream != out_stream and out_text:
                        yield {"kind": "output", "stream": out_stream, "text": "".join(out_text)}
                        out_text = []
                    out_stream = stream
                    out_text.append(unescape(fields[2]))
                    continue
                if tag == "v":
                    self._pending.setdefault(int(fields[1]), {}).update(self._pairs(fields[2:]))
                    continue
                if tag == "t":
                    self.truncated = fields[1] if len(fields) > 1 else "max_events"
                    continue
                event = self._event(self._KINDS[tag], fields)
            except (KeyError, IndexError, ValueError):
                self.dropped += 1
                continue
            if out_text:
                yield {"kind": "output", "stream": out_stream, "text": "".join(out_text)}
                out_stream, out_text = None, []
            if self.events >= self.max_events:
                self.truncated = "max_events"
                continue
            self.events += 1
            yield event
        if out_text:
            yield {"kind": "output", "stream": out_stream, "text": "".join(out_text)}
