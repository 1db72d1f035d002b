"""The reference tracer: sys.settrace on the interpreter that runs traced programs.

Run as a script (`/usr/bin/python3 oracle.py SOURCE TRACE`), it executes SOURCE as `main.py`
the way the runtime does and writes the same channel records the prelude writes (c/l/r/x/o,
see codealchemy.tracer.wire), reporting at every line event every visible variable; a JSON
probe table goes to TRACE + ".probes". `oracle_events(path)` runs it in a subprocess and decodes
the records with the host's own Decoder, so both sides are diffed per frame by the same code.

Visible variables (the rule the prelude applies too): the frame's f_locals (at module level:
the globals), except names that are not identifiers (`.0`), dunder names, names starting with
`_ca_` (the prelude's), and values that are modules, classes, functions, builtin functions or
bound methods.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PYTHON = "/usr/bin/python3"
HIDDEN_TYPES = frozenset({"module", "function", "builtin_function_or_method", "method"})
SIMPLE = (int, str, float, bool, type(None))


def _main(source: str, out: str) -> int:
    import builtins

    max_value = 200
    records: list[str] = []
    probes: dict[tuple[str, int, str], int] = {}
    frames: dict[object, int] = {}
    keep: list[object] = []
    unwinding: set[int] = set()
    busy = [False]

    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")

    def render(v) -> str:
        busy[0] = True
        try:
            s = repr(v)
        except BaseException as e:
            s = f"<repr failed: {type(e).__name__}>"
        finally:
            busy[0] = False
        if len(s) > max_value:
            s = s[:max_value - 1] + "\u2026"
        return esc(s)

    def hidden(v) -> bool:
        t = type(v)
        if t in SIMPLE:
            return False
        return isinstance(v, type) or t.__name__ in HIDDEN_TYPES

    def visible(d: dict, names=None) -> list[str]:
        out = []
        for k in (names if names is not None else list(d)):
            if k not in d:
                continue
            if not k.isidentifier() or (k[:2] == "__" and k[-2:] == "__") or k.startswith("_ca_"):
                continue
            v = d[k]
            if hidden(v):
                continue
            out += [esc(k), render(v)]
        return out

    def probe(kind: str, line: int, func: str) -> int:
        key = (kind, line, func)
        if key not in probes:
            probes[key] = len(probes)
        return probes[key]

    def fid(frame) -> int:
        if frame not in frames:
            frames[frame] = len(frames) + 1
            keep.append(frame)
        return frames[frame]

    def depth(frame) -> int:
        n = 0
        f = frame.f_back
        while f is not None:
            if f.f_code.co_filename == "main.py":
                n += 1
            f = f.f_back
        return n

    def emit(tag: str, fields: list) -> None:
        records.append("\t".join([tag, *map(str, fields)]))

    def tracer(frame, event, arg):
        if busy[0] or frame.f_code.co_filename != "main.py":
            return None
        code = frame.f_code
        func = code.co_name
        f = fid(frame)
        line = frame.f_lineno
        if event == "call":
            n = code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & 4) + bool(code.co_flags & 8)
            loc = frame.f_locals
            emit("c", [probe("call", code.co_firstlineno, func), f, depth(frame), *visible(loc, code.co_varnames[:n])])
            unwinding.discard(f)
        elif event == "line":
            unwinding.discard(f)
            emit("l", [probe("line", line, func), f, depth(frame), *visible(frame.f_locals)])
        elif event == "return":
            p = probe("return", line, func)
            if f in unwinding:
                emit("r", [p, f, depth(frame)])
            else:
                emit("r", [p, f, depth(frame), render(arg)])
            unwinding.discard(f)
        elif event == "exception":
            et, ev, _ = arg
            unwinding.add(f)
            try:
                msg = str(ev)
            except BaseException:
                msg = ""
            if len(msg) > max_value:
                msg = msg[:max_value - 1] + "\u2026"
            emit("x", [probe("exception", line, func), f, depth(frame), esc(et.__name__), esc(msg)])
        return tracer

    class Out:
        def __init__(self, stream, n):
            self._s, self._n = stream, n

        def write(self, text):
            if isinstance(text, str) and text:
                emit("o", [self._n, esc(text)])
            return self._s.write(text)

        def __getattr__(self, name):
            return getattr(self._s, name)

    text = Path(source).read_text(encoding="utf-8")
    code = compile(text, "main.py", "exec", dont_inherit=True)
    sys.argv = ["main.py"]
    sys.path[0] = os.getcwd()
    sys.stdout, sys.stderr = Out(sys.stdout, 1), Out(sys.stderr, 2)
    import types
    main = types.ModuleType("__main__")  # the program is __main__, as when run as a script
    main.__dict__.update({"__file__": os.path.abspath("main.py"), "__builtins__": builtins,
                          "__package__": None, "__spec__": None, "__loader__": None})
    sys.modules["__main__"] = main
    globs = main.__dict__
    status = 0
    sys.settrace(tracer)
    try:
        exec(code, globs)
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        sys.settrace(None)
        import traceback
        traceback.print_exc()
        status = 1
    finally:
        sys.settrace(None)
        sys.stdout.flush()
        sys.stderr.flush()
        table = [{"id": i, "kind": k, "line": ln, "func": fn} for (k, ln, fn), i in probes.items()]
        Path(out).write_text("\n".join(records) + "\n", encoding="utf-8")
        Path(out + ".probes").write_text(json.dumps(table), encoding="utf-8")
    return status


def oracle_events(path: str | Path, *, max_value: int = 200, timeout: float = 30) -> list[dict]:
    """The settrace events of the program at `path` (run as main.py by /usr/bin/python3)."""
    from codealchemy.tracer.instrument import Probe
    from codealchemy.tracer.wire import Decoder

    with tempfile.TemporaryDirectory(prefix="ca-oracle-") as tmp:
        shutil.copy(path, Path(tmp) / "main.py")
        trace = Path(tmp) / "trace.txt"
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0",
               "PYTHONDONTWRITEBYTECODE": "1", "HOME": tmp}
        subprocess.run([PYTHON, "-X", "utf8", str(Path(__file__).resolve()), "main.py", str(trace)],
                       cwd=tmp, env=env, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        table = json.loads(Path(str(trace) + ".probes").read_text(encoding="utf-8"))
        probes = {p["id"]: Probe(p["id"], p["kind"], p["line"], p["func"]) for p in table}
        decoder = Decoder(probes, max_events=10**9, max_value=max_value)
        return list(decoder.feed(trace.read_bytes()))


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1], sys.argv[2]))
