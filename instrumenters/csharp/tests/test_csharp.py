"""C# tracing (mcs + mono): goldens, traced == untraced, frames, exceptions, repairs, limits.

mcs compiles a fixture in ~0.5 s and mono starts in ~0.1 s, so every program is traced and run
untraced through the runtime (two at a time, once for the module).
"""

from __future__ import annotations

import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.instrument import Instrumented, Skip, instrument
from codealchemy.tracer.testing import Tracer, check_golden, check_same_run
from codealchemy.tracer.tracing import diagnostics, request_for

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
CONFORMANCE = HERE / "conformance"
BENCH = FIXTURES / "bench_loop.cs"
PROGRAMS = sorted(FIXTURES.glob("*.cs"))
GOLDEN = [p for p in PROGRAMS if p != BENCH]
ALL = PROGRAMS + sorted(CONFORMANCE.glob("*.cs"))

pytestmark = pytest.mark.skipif(shutil.which("mcs") is None or shutil.which("mono") is None,
                                reason="mcs/mono are not installed (apt-get install mono-mcs mono-runtime)")


@pytest.fixture(scope="module")
def csharp():
    return plugins.languages().get("csharp")


@pytest.fixture(scope="module")
def tracer():
    """A generous wall-clock limit: on a loaded machine (other test suites in parallel) a compile
    can take several times its usual second or two."""
    return Tracer(timeout=60)


@pytest.fixture(scope="module")
def runs(tracer):
    """Each program traced and run untraced, once for the module."""
    with ThreadPoolExecutor(2) as pool:
        return dict(zip(ALL, pool.map(lambda p: (tracer.trace(p), tracer.untraced(p).run), ALL), strict=True))


def test_enough_fixtures():
    assert len(GOLDEN) >= 20


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_golden(path, runs):
    check_golden(runs[path][0].events, path.with_suffix(".jsonl"))


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.parent.name + "/" + p.name)
def test_same_output_and_exit_code(path, runs):
    traced, plain = runs[path]
    assert "repairs" not in traced.header or path.name == "repair.cs"
    check_same_run(traced, plain, same_stderr="never" if path.name == "uncaught.cs" else "always")


def test_main_frame_and_depths(runs):
    events = [e for e in runs[FIXTURES / "recursion.cs"][0].events if e["kind"] != "output"]
    assert events[0] == {"kind": "call", "func": "Recursion.Main", "line": 27, "frame": 1, "depth": 0, "args": {}}
    assert events[-1] == {"kind": "return", "func": "Recursion.Main", "line": 33, "frame": 1, "depth": 0,
                          "value": ""}
    calls = [e for e in events if e["kind"] == "call"]
    assert len({e["frame"] for e in calls}) == len(calls)
    facts = [(e["depth"], e["args"]["n"]) for e in calls if e["func"] == "Recursion.Fact"]
    assert facts == [(1, "4"), (2, "3"), (3, "2"), (4, "1")]
    returns = [e["value"] for e in events if e["kind"] == "return" and e["func"] == "Recursion.Fact"]
    assert returns == ["1", "2", "6", "24"]
    fib = [e for e in events if e["func"] == "Recursion.Fib"][:3]  # expression-bodied: call, line, call
    assert [(e["kind"], e["line"]) for e in fib] == [("call", 14), ("line", 14), ("call", 14)]


def test_loop_headers_fire_on_every_check(runs):
    lines = [e["line"] for e in runs[FIXTURES / "loops.cs"][0].events if e["kind"] == "line"]
    assert lines.count(9) == 4 + 0   # for (i < 3): three iterations and the last check
    assert lines.count(14) == 3      # while (n > 6): n = 10, 8, 6
    assert lines.count(24) == 3      # foreach: once before, once per element
    assert lines.count(31) == 3      # for (;;): before, then each iteration
    assert lines.count(51) == 3      # `again: g++;` runs three times (goto)


def test_uncaught_exception(runs):
    path = FIXTURES / "uncaught.cs"
    traced, plain = runs[path]
    assert traced.footer["exit_code"] == plain.exit_code == 1
    head = ["", "Unhandled Exception:", "System.InvalidOperationException: bottom reached"]
    assert plain.stderr.decode().splitlines()[:3] == head
    assert traced.footer["stderr"].splitlines()[:3] == head   # frames then differ: IL offsets, assembly ids
    tail = [(e["kind"], e["func"], e["line"], e.get("value", "-")) for e in traced.events if e["kind"] != "output"]
    assert tail[-8:] == [
        ("exception", "Uncaught.Depth", 9, "-"), ("return", "Uncaught.Depth", 9, None),
        ("exception", "Uncaught.Depth", 11, "-"), ("return", "Uncaught.Depth", 11, None),
        ("exception", "Uncaught.Depth", 11, "-"), ("return", "Uncaught.Depth", 11, None),
        ("exception", "Uncaught.Main", 17, "-"), ("return", "Uncaught.Main", 17, None),
    ]
    exc = next(e for e in traced.events if e["kind"] == "exception")
    assert exc["type"] == "System.InvalidOperationException" and exc["message"] == "bottom reached"


def test_caught_exception_reported_where_it_passes(runs):
    events = runs[FIXTURES / "exceptions.cs"][0].events
    exc = [(e["func"], e["type"], e["line"]) for e in events if e["kind"] == "exception"]
    assert exc[:3] == [("Exceptions.Withdraw", "InsufficientFundsException", 21),
                       ("Exceptions.Pay", "InsufficientFundsException", 29),
                       ("Exceptions.Main", "InsufficientFundsException", 54)]
    unwound = [e["func"] for e in events if e["kind"] == "return" and e["value"] is None]
    assert unwound == ["Exceptions.Withdraw", "Exceptions.Pay"]


def test_repair_loop_drops_rejected_probes(runs):
    traced, _ = runs[FIXTURES / "repair.cs"]
    repairs = traced.header["repairs"]
    assert [(r["line"], r["variable"]) for r in repairs] == [(9, None)]  # `return null;` in a lambda
    assert "CS0411" in repairs[0]["reason"]
    assert traced.footer["status"] == "ok" and traced.stdout == "HI! True 7\n"
    returns = [(e["func"], e["line"], e["value"]) for e in traced.events if e["kind"] == "return"]
    assert ("Repair.Level", 18, "7") in returns  # byte: R<byte>(P, 7) keeps the constant narrowing


def test_definite_assignment_and_out(runs):
    seen = {}
    for e in runs[FIXTURES / "definite.cs"][0].events:
        if e["kind"] in ("line", "call"):
            seen.setdefault((e["func"], e["line"]), e.get("vars", e.get("args")))
    assert ("Definite.Pick", 7) not in seen              # `int x;` runs no code
    assert "x" not in seen[("Definite.Pick", 17)]        # assigned on both branches: not read
    assert seen[("Definite.Pick", 18)] == {"y": "10"}
    assert seen[("Definite.Split", 21)] == {"n": "7"}    # out parameters are not arguments
    assert seen[("Definite.Split", 24)] == {"half": "3"}


def test_environment_exit_flushes(runs):
    traced, _ = runs[FIXTURES / "environment_exit.cs"]
    assert traced.footer["exit_code"] == 3
    last = [e for e in traced.events if e["kind"] == "line"][-1]
    assert (last["func"], last["line"]) == ("EnvironmentExit.Check", 10)
    assert traced.stdout == "ok 1\nok 2\ntoo big, exiting\n"


def test_static_constructor_and_int_main(runs):
    traced, _ = runs[FIXTURES / "static_ctor.cs"]
    calls = [(e["func"], e["frame"], e["depth"]) for e in traced.events if e["kind"] == "call"]
    assert calls[:3] == [("StaticCtor..cctor", 2, 0), ("StaticCtor.Register", 3, 1), ("StaticCtor.Main", 1, 0)]
    assert traced.footer["exit_code"] == 4
    assert [e for e in traced.events if e["kind"] == "return"][-1]["value"] == "4"


def test_output_in_order_and_stderr(runs):
    events = runs[FIXTURES / "output_streams.cs"][0].events
    out = [(e["stream"], e["text"]) for e in events if e["kind"] == "output"]
    assert out[:4] == [("stdout", "no newline, "), ("stdout", "then newline\n"), ("stderr", "to stderr\n"),
                       ("stdout", "5-five\n")]
    assert out[-1] == ("stdout", "café ☃ done\n")


def test_values_render(runs):
    seen = {}
    for e in runs[FIXTURES / "values.cs"][0].events:
        if e["kind"] == "line":
            seen.update(e["vars"])
    assert seen["i"] == "42" and seen["big"] == "1099511627776" and seen["d"] == "2.5"
    assert seen["third"] == "0.3333333333333333" and seen["f"] == "1.25" and seen["m"] == "2.50"
    assert seen["ch"] == "'\\n'" and seen["flag"] == "true" and seen["nothing"] == "null"
    assert seen["jagged"] == "[[1, 2], [3]]" and seen["grid"] == "[[1, 2], [3, 4]]" and seen["letters"] == "['a', 'b']"
    assert seen["p"] == 'Point{X=1, Y=2, tag="p", Label="lbl"}'
    assert seen["a"] == "Node{Val=1, Next=Node{...}}"
    assert seen["c"] == "Green" and seen["map"] == '{["k"] = [1, 2]}' and seen["tuple"] == '(1, "two")'
    assert seen["anon"] == "{ X = 1, Y = y }" and seen["o"] == "Object{}" and seen["named"] == "Named!"
    assert seen["fn"] == "<delegate>" and seen["maybe"] == "null" and seen["sb"] == "built"


def test_forged_output_is_only_output(runs):
    traced, _ = runs[FIXTURES / "fake_trace_output.cs"]
    kinds = [e["kind"] for e in traced.events]
    assert kinds.count("call") == 1 and kinds.count("return") == 1
    assert traced.stdout == "c\t0\t1\t0\nl\t1\t1\t0\tx\t42\nr\t0\t1\t0\tforged\n"


def test_bench_loop(runs):
    traced, plain = runs[BENCH]
    lines = sum(1 for e in traced.events if e["kind"] == "line")
    assert 80_000 <= lines <= 100_000 and not traced.footer["truncated"]
    assert traced.stdout == plain.stdout.decode()


LONG = """\
using System;

namespace Demo.App
{
    class Long
    {
        static void Main()
        {
            string s = new string('a', 400);
            int n = 0;
            for (int i = 0; i < 1000; i++)
            {
                n += i;
            }
            Console.WriteLine(s.Length + " " + n);
        }
    }
}
"""


def test_namespace_max_events_and_value(tmp_path, tracer):
    path = tmp_path / "long.cs"
    path.write_text(LONG)
    traced = tracer.trace(path, max_events=50, max_value=20)
    footer = traced.footer
    assert footer["status"] == "ok" and footer["truncated"] and footer["truncation"] == "max_events", footer
    assert footer["events"] == 50
    values = [v for e in traced.events if e["kind"] == "line" for v in e["vars"].values()]
    assert '"aaaaaaaaaaaaaaaaaa…' in values  # 20 characters, the marker included


SHADOW = """\
using System;

class List { public int Count; }
class Math { }
class Stream { }
class Type { }
class Encoding { }

class Program
{
    static void Main()
    {
        var l = new List();
        int n = 0;
        for (int i = 0; i < 3; i++) n += i;
        Console.WriteLine(n + l.Count);
    }
}
"""


def test_program_types_do_not_shadow_the_prelude(tmp_path, tracer):
    """The prelude names every framework type with global::System..., so a program's own List works."""
    path = tmp_path / "shadow.cs"
    path.write_text(SHADOW)
    traced = tracer.trace(path)
    assert traced.footer["status"] == "ok", traced.footer
    assert traced.stdout == "3\n" and "repairs" not in traced.header


def test_no_channel_no_probes(csharp, tracer, runs):
    path = FIXTURES / "exceptions.cs"
    inst = instrument(path.read_text(), csharp)
    result = tracer.backend.run(request_for(csharp, inst.code, inst.source_name, inst.files, tracer.limits,
                                            trace=False))
    assert result.run.status == "ok" and result.trace == b""
    assert result.run.stdout == runs[path][1].stdout


def test_lines_kept(csharp):
    """Probes go on the line of the code they report: the original lines keep their numbers."""
    token = re.compile(r"\w+|[^\s\w]")
    for path in PROGRAMS:
        source = path.read_text(encoding="utf-8")
        result = instrument(source, csharp)
        assert isinstance(result, Instrumented), result
        out = result.code.splitlines()
        assert len(out) == len(source.splitlines())
        for n, line in enumerate(source.splitlines()):
            want = [t for t in token.findall(line) if t not in ("=>", "=", ">")]
            have = iter(token.findall(out[n]))
            assert all(t in have for t in want), (path.name, n + 1, line, out[n])


@pytest.mark.parametrize("program,reason", [
    ("class A { static void Helper() {} }\n", "no static Main"),
    ("class A { static void Main() { int _caf1 = 1; } }\n", "reserved"),
])
def test_skips(csharp, program, reason):
    result = instrument(program, csharp)
    assert isinstance(result, Skip) and reason in result.reason


def test_diagnostic_regex(csharp):
    stderr = b"Program.cs(5,13): error CS0165: Use of unassigned local variable `x'\n"
    assert diagnostics(csharp, stderr, "Program.cs") == [(5, "x", "CS0165: Use of unassigned local variable `x'")]


def test_goldens_are_json_lines():
    for path in GOLDEN:
        for line in path.with_suffix(".jsonl").read_text(encoding="utf-8").splitlines():
            json.loads(line)
