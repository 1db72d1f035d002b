"""`trace run` end to end on real programs: the JSON contract, dumps, limits, exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

TRACE = [sys.executable, "-m", "codealchemy.tracer.cli"]
ROOT = Path(__file__).resolve().parent.parent

PROGRAMS = {
    "python": ("def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n\n"
               "print('total', gcd(12, 9) + gcd(100, 75))\n"),
    "javascript": ("function gcd(a, b) {\n  while (b) {\n    [a, b] = [b, a % b];\n  }\n  return a;\n}\n"
                   "console.log('total', gcd(12, 9) + gcd(100, 75));\n"),
    "c": ("#include <stdio.h>\nint gcd(int a, int b) {\n  while (b) {\n    int t = a % b;\n    a = b;\n"
          "    b = t;\n  }\n  return a;\n}\nint main(void) {\n  printf(\"total %d\\n\", gcd(12, 9) + gcd(100, 75));\n"
          "  return 0;\n}\n"),
}
EXT = {"python": ".py", "javascript": ".js", "c": ".c"}
KEYS = {"call": {"kind", "func", "line", "frame", "depth", "args"},
        "line": {"kind", "func", "line", "frame", "depth", "vars"},
        "return": {"kind", "func", "line", "frame", "depth", "value"},
        "output": {"kind", "stream", "text"}}


def run(*args, **kw):
    return subprocess.run([*TRACE, *map(str, args)], capture_output=True, text=True, timeout=120, **kw)


@pytest.fixture(params=sorted(PROGRAMS))
def program(request, tmp_path):
    path = tmp_path / f"gcd{EXT[request.param]}"
    path.write_text(PROGRAMS[request.param])
    return request.param, path


def test_json_contract(program):
    lang, path = program
    done = run("run", "--json", path)
    assert done.returncode == 0, done.stderr
    recs = [json.loads(line) for line in done.stdout.splitlines()]
    head, events, foot = recs[0], recs[1:-1], recs[-1]
    assert head["kind"] == "header" and head["schema"] == 1 and head["language"] == lang
    assert head["source"] == str(path) and len(head["sha256"]) == 64 and head["sandbox"] == "bwrap"
    for e in events:
        assert set(e) == KEYS[e["kind"]], e
    calls = [e for e in events if e["kind"] == "call" and e["func"] == "gcd"]
    returns = [e for e in events if e["kind"] == "return" and e["func"] == "gcd"]
    assert [c["args"] for c in calls] == [{"a": "12", "b": "9"}, {"a": "100", "b": "75"}]
    assert [r["value"] for r in returns] == ["3", "25"]
    assert all(c["depth"] == r["depth"] and c["frame"] == r["frame"] for c, r in zip(calls, returns, strict=True))
    first = next(e for e in events if e["kind"] == "line" and e["frame"] == calls[0]["frame"])
    assert first["vars"] == {"a": "12", "b": "9"}, "a frame's first line event shows all its variables"
    out = [e for e in events if e["kind"] == "output"]
    assert "".join(e["text"] for e in out) == "total 28\n"
    assert events.index(out[-1]) > events.index(returns[-1]), "output comes in true order"
    assert foot == foot | {"kind": "footer", "status": "ok", "exit_code": 0, "truncated": False}
    assert foot["events"] == sum(e["kind"] != "output" for e in events)


def test_readable_trace_dump_and_instrumented_source(program, tmp_path):
    lang, path = program
    dump = tmp_path / "dump"
    done = run("run", "--show-instrumented", "--out", dump, path)
    assert done.returncode == 0, done.stderr
    assert "while" in done.stdout and "total 28" in done.stdout and "gcd" in done.stdout
    listed = [json.loads(line) for line in run("dump", "list", dump, "--json").stdout.splitlines()]
    assert listed == [{"source": str(path), "language": lang, "status": "ok", "reason": None,
                       "events": listed[0]["events"]}]
    shown = run("dump", "show", dump, path, "--json").stdout.splitlines()
    direct = run("run", "--json", path).stdout.splitlines()
    assert [json.loads(x)["kind"] for x in shown] == [json.loads(x)["kind"] for x in direct]


def test_event_limit_and_no_sandbox_are_said_in_the_trace(program):
    _, path = program
    recs = [json.loads(line) for line in run("run", "--json", "--max-events", "5", "--sandbox", "none",
                                             path).stdout.splitlines()]
    assert recs[0]["sandbox"] == "none" and recs[0]["limits"]["max_events"] == 5
    assert recs[-1]["truncated"] is True and recs[-1]["truncation"] == "max_events" and recs[-1]["events"] == 5
    assert sum(r["kind"] not in ("header", "footer", "output") for r in recs) == 5


def test_runtime_error_is_one_line_and_exit_1(tmp_path):
    path = tmp_path / "boom.py"
    path.write_text("def f(x):\n    return 1 / x\n\nf(0)\n")
    done = run("run", path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"trace: {path}: runtime_error: exit code 1"]
    recs = [json.loads(line) for line in run("run", "--json", path).stdout.splitlines()]
    exc = [r for r in recs if r["kind"] == "exception"]
    assert exc and exc[0]["type"] == "ZeroDivisionError" and exc[0]["func"] == "f" and exc[0]["line"] == 2
    assert "ZeroDivisionError" in recs[-1]["stderr"]


def test_bundled_example_and_langs():
    done = run("run", ROOT / "examples" / "gcd.py")
    assert done.returncode == 0 and "total 29" in done.stdout
    langs = run("langs").stdout
    assert all(name in langs for name in ("python", "javascript", "c"))
    code = run("instrument", ROOT / "examples" / "gcd.py")
    assert code.returncode == 0 and "def gcd(a, b):" in code.stdout
