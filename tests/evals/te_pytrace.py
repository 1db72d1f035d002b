"""A small sys.settrace tracer that writes schema-1 records: real traces of real Python runs
for the TraceEval / CodeTrace tests while the instrumenting tracer is not available.

It follows the schema's semantics (README, "The trace"): `line` = about to run that line, with
the variables changed since the frame's previous event; top-level code is frame 1,
`<module>`, depth 0, without call/return events; `return` is null when an exception leaves
the frame.
"""

from __future__ import annotations

import hashlib
import io
import sys
import types
from pathlib import Path

from codealchemy.tracer import records


def _visible(frame, module: bool) -> dict:
    names = frame.f_globals if module else frame.f_locals
    return {k: v for k, v in names.items()
            if not k.startswith("__") and not isinstance(v, (types.ModuleType, types.FunctionType, type))}


def trace_python(code: str, source: str = "prog.py", max_events: int = 10_000) -> list[dict]:
    data = code.encode("utf-8")
    head = records.header(language="python", source=source, sha256=hashlib.sha256(data).hexdigest(),
                          instrumenter={"id": "python-settrace", "version": "test"},
                          limits={"max_events": max_events, "max_value": 200}, tool="tests", code=code)
    events: list[dict] = []
    frames: dict[int, dict] = {}
    state = {"next": 1, "truncated": False}
    filename = f"<traced {source}>"

    def emit(event: dict) -> None:
        if len(events) >= max_events:
            state["truncated"] = True
            return
        events.append(event)

    def rep(v) -> str:
        return records.truncate(repr(v), 200)

    class Out(io.TextIOBase):
        def write(self, s: str) -> int:
            emit({"kind": "output", "stream": "stdout", "text": s})
            return len(s)

    def tracer(frame, event, arg):
        if frame.f_code.co_filename != filename:
            return None
        module = frame.f_code.co_name == "<module>"
        info = frames.get(id(frame))
        if event == "call":
            fid = 1 if module else state["next"] + 1
            state["next"] = max(state["next"], fid)
            depth = 0
            back = frame.f_back
            while back is not None and back.f_code.co_filename == filename:
                depth += 1
                back = back.f_back
            info = frames[id(frame)] = {"id": fid, "depth": depth, "seen": None, "exc": False}
            if not module:
                args = {n: rep(frame.f_locals[n]) for n in frame.f_code.co_varnames[:frame.f_code.co_argcount]}
                emit({"kind": "call", "func": frame.f_code.co_name, "line": frame.f_code.co_firstlineno,
                      "frame": fid, "depth": depth, "args": args})
            return tracer
        base = {"func": frame.f_code.co_name, "line": frame.f_lineno, "frame": info["id"], "depth": info["depth"]}
        if event == "line":
            now = {k: rep(v) for k, v in _visible(frame, module).items()}
            seen = info["seen"]
            changed = now if seen is None else {k: v for k, v in now.items() if seen.get(k) != v}
            info["seen"], info["exc"] = now, False
            emit({"kind": "line", **base, "vars": changed})
        elif event == "exception":
            info["exc"] = True
            emit({"kind": "exception", **base, "type": arg[0].__name__, "message": str(arg[1])})
        elif event == "return":
            if not module:
                emit({"kind": "return", **base, "value": None if info["exc"] else rep(arg)})
            frames.pop(id(frame), None)
        return tracer

    compiled = compile(code, filename, "exec")
    saved = sys.stdout
    sys.stdout = Out()
    status, exit_code = "ok", 0
    sys.settrace(tracer)
    try:
        exec(compiled, {"__name__": "__main__"})
    except Exception:
        status, exit_code = "runtime_error", 1
    finally:
        sys.settrace(None)
        sys.stdout = saved
    foot = records.footer(status=status, exit_code=exit_code, events=len(events), truncated=state["truncated"],
                          truncation="max_events" if state["truncated"] else None)
    return [head, *events, foot]


def write_dump(root: Path, programs: dict[str, str], shard: str = "shard-00000", **kw) -> Path:
    """Trace each program (name -> code) and write one dump shard."""
    with records.DumpWriter(root, shard=shard) as writer:
        for name, code in programs.items():
            writer.add(trace_python(code, source=name, **kw))
    return root
