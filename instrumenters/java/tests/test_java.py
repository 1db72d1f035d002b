"""Java tracing: goldens, traced == untraced, frames, exceptions, repairs, limits.

A JVM start costs ~0.5 s and javac ~1-3 s, so the module traces every program once, two at a
time, and compiles all the untraced originals with ONE javac (their top-level class names are
unique across fixtures and conformance programs); each untraced program then runs in the
sandbox with the runtime's own run command.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.backends import RunRequest
from codealchemy.tracer.instrument import Instrumented, Skip, instrument
from codealchemy.tracer.testing import Tracer, check_golden, check_same_run
from codealchemy.tracer.tracing import request_for

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
CONFORMANCE = HERE / "conformance"
BENCH = FIXTURES / "bench_loop.java"
PROGRAMS = sorted(FIXTURES.glob("*.java"))
GOLDEN = [p for p in PROGRAMS if p != BENCH]
ALL = PROGRAMS + sorted(CONFORMANCE.glob("*.java"))
PUBLIC = re.compile(r"^public\s+(?:final\s+|abstract\s+)*(?:class|interface|enum|record)\s+(\w+)", re.M)

pytestmark = pytest.mark.skipif(shutil.which("javac") is None, reason="javac is not installed")


def public_class(path: Path) -> str:
    return PUBLIC.search(path.read_text(encoding="utf-8")).group(1)


@pytest.fixture(scope="module")
def java():
    return plugins.languages().get("java")


@pytest.fixture(scope="module")
def tracer():
    """A generous wall-clock limit: on a loaded machine (other test suites in parallel) a compile
    can take several times its usual second or two."""
    return Tracer(timeout=60)


@pytest.fixture(scope="module")
def traces(tracer):
    with ThreadPoolExecutor(2) as pool:
        return dict(zip(ALL, pool.map(tracer.trace, ALL), strict=True))


@pytest.fixture(scope="module")
def untraced(tmp_path_factory, tracer, java):
    """Every original compiled by one javac on the host, each run in the sandbox untraced."""
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("classes")
    for p in ALL:
        shutil.copy(p, src / f"{public_class(p)}.java")
    subprocess.run(["javac", "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", "-encoding", "UTF-8", "-nowarn",
                    "-d", str(out), *sorted(map(str, src.glob("*.java")))], check=True, capture_output=True)
    classes = {c.name: c.read_bytes() for c in out.glob("*.class")}

    def run(p: Path):
        name = public_class(p)
        files = {n: b for n, b in classes.items() if n == f"{name}.class" or n.startswith(f"{name}$")}
        files[".main"] = f"{name}\n".encode()
        return tracer.backend.run(RunRequest(files=files, run=java.runtime.run, env=dict(java.runtime.env),
                                             limits=tracer.limits, trace=False, language="java")).run

    with ThreadPoolExecutor(2) as pool:
        return dict(zip(ALL, pool.map(run, ALL), strict=True))


def test_enough_fixtures():
    assert len(GOLDEN) >= 20
    assert len({public_class(p) for p in ALL}) == len(ALL)


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_golden(path, traces):
    check_golden(traces[path].events, path.with_suffix(".jsonl"))


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.parent.name + "/" + p.name)
def test_same_output_and_exit_code(path, traces, untraced):
    traced = traces[path]
    assert "repairs" not in traced.header or path.name == "repair.java"
    check_same_run(traced, untraced[path], same_stderr="always")  # uncaught exceptions: the same stack trace


def test_main_frame_and_depths(traces):
    events = [e for e in traces[FIXTURES / "recursion.java"].events if e["kind"] != "output"]
    assert events[0] == {"kind": "call", "func": "Recursion.main", "line": 22, "frame": 1, "depth": 0,
                         "args": {"args": "[]"}}
    assert events[-1] == {"kind": "return", "func": "Recursion.main", "line": 27, "frame": 1, "depth": 0,
                          "value": ""}
    calls = [e for e in events if e["kind"] == "call"]
    assert len({e["frame"] for e in calls}) == len(calls)
    facts = [(e["depth"], e["args"]["n"]) for e in calls if e["func"] == "Recursion.fact"]
    assert facts == [(1, "4"), (2, "3"), (3, "2"), (4, "1")]
    returns = [e["value"] for e in events if e["kind"] == "return" and e["func"] == "Recursion.fact"]
    assert returns == ["1", "2", "6", "24"]


def test_loop_headers_fire_on_every_check(traces):
    lines = [e["line"] for e in traces[FIXTURES / "loops.java"].events if e["kind"] == "line"]
    assert lines.count(6) == 4      # for (i < 3): three iterations and the last check
    assert lines.count(10) == 3     # while (n > 6): n = 10, 8, 6
    assert lines.count(18) == 3     # for (int x : xs): once before, once per element
    assert lines.count(24) == 3     # for (;;): before, then each iteration


def test_uncaught_exception(traces, untraced):
    path = FIXTURES / "uncaught.java"
    traced, plain = traces[path], untraced[path]
    assert traced.footer["exit_code"] == plain.exit_code == 1
    first = 'Exception in thread "main" java.lang.IllegalStateException: bottom reached'
    assert plain.stderr.decode().splitlines()[0] == first
    assert traced.footer["stderr"].splitlines()[0] == first
    tail = [(e["kind"], e["func"], e["line"], e.get("value", "-")) for e in traced.events if e["kind"] != "output"]
    assert tail[-8:] == [
        ("exception", "Uncaught.depth", 4, "-"), ("return", "Uncaught.depth", 4, None),
        ("exception", "Uncaught.depth", 6, "-"), ("return", "Uncaught.depth", 6, None),
        ("exception", "Uncaught.depth", 6, "-"), ("return", "Uncaught.depth", 6, None),
        ("exception", "Uncaught.main", 11, "-"), ("return", "Uncaught.main", 11, None),
    ]
    exc = next(e for e in traced.events if e["kind"] == "exception")
    assert exc["type"] == "java.lang.IllegalStateException" and exc["message"] == "bottom reached"


def test_caught_exception_reported_where_it_passes(traces):
    events = traces[FIXTURES / "exceptions.java"].events
    exc = [(e["func"], e["type"].rsplit(".", 1)[-1], e["line"]) for e in events if e["kind"] == "exception"]
    assert exc[:3] == [("Exceptions.withdraw", "Exceptions$InsufficientFunds", 12),
                       ("Exceptions.pay", "Exceptions$InsufficientFunds", 19),
                       ("Exceptions.main", "Exceptions$InsufficientFunds", 36)]
    unwound = [e["func"] for e in events if e["kind"] == "return" and e["value"] is None]
    assert unwound == ["Exceptions.withdraw", "Exceptions.pay"]


def test_repair_loop_drops_rejected_probes(traces):
    traced = traces[FIXTURES / "repair.java"]
    repairs = traced.header["repairs"]
    assert [(r["line"], r["variable"]) for r in repairs] == [(7, None)]  # a switch with char and int arms
    assert "incompatible types" in repairs[0]["reason"]
    assert traced.footer["status"] == "ok" and traced.stdout == "7 A B 9 -1\n"
    returns = [(e["func"], e["line"], e["value"]) for e in traced.events if e["kind"] == "return"]
    assert returns[:4] == [("Repair.level", 3, "7"), ("Repair.grade", 16, "'A'"), ("Repair.grade", 18, "'B'"),
                           ("Repair.code", 12, "<unknown>")]  # narrowed constants: cast, not repaired


def test_definite_assignment_reads(traces):
    seen = {}
    for e in traces[FIXTURES / "definite.java"].events:
        if e["kind"] == "line":
            seen.setdefault((e["func"], e["line"]), e["vars"])
    assert ("Definite.pick", 9) not in seen               # `int y;` runs no code: no line event
    assert "x" not in seen[("Definite.pick", 10)]         # assigned on both branches: not read
    assert seen[("Definite.pick", 12)] == {"y": "10"}     # y = x * 10; at the top level
    assert seen[("Definite.main", 31)] == {"total": "32"}  # a, b declared on 31: not yet
    assert seen[("Definite.main", 32)] == {"b": '"b"'}


def test_system_exit_flushes(traces):
    traced = traces[FIXTURES / "system_exit.java"]
    assert traced.footer["exit_code"] == 3
    last = [e for e in traced.events if e["kind"] == "line"][-1]
    assert (last["func"], last["line"]) == ("SystemExit.check", 5)
    assert traced.stdout == "ok 1\nok 2\ntoo big, exiting\n"


def test_output_in_order_and_stderr(traces):
    events = traces[FIXTURES / "output_streams.java"].events
    out = [(e["stream"], e["text"]) for e in events if e["kind"] == "output"]
    assert out[:4] == [("stdout", "no newline, "), ("stdout", "then newline\n"), ("stderr", "to stderr\n"),
                       ("stdout", "5-five\n")]
    assert out[-1] == ("stdout", "café ☃ done\n")


def test_static_initializer_output_is_recorded(traces):
    events = traces[FIXTURES / "static_init.java"].events
    assert events[0] == {"kind": "output", "stream": "stdout", "text": "loading table\n"}
    assert [e["frame"] for e in events if e["kind"] == "call"] == [2, 1]


def test_values_render(traces):
    seen = {}
    for e in traces[FIXTURES / "values.java"].events:
        if e["kind"] == "line":
            seen.update(e["vars"])
    assert seen["i"] == "42" and seen["big"] == "1099511627776" and seen["d"] == "2.5" and seen["f"] == "1.25"
    assert seen["ch"] == "'\\n'" and seen["flag"] == "true" and seen["nothing"] == "null"
    assert seen["grid"] == "[[1, 2], [3]]" and seen["letters"] == "['a', 'b']"
    assert seen["p"] == 'Point{x=1, y=2, tag="p"}'
    assert seen["a"] == "Node{val=1, next=Node{...}}"
    assert seen["m"] == "Money[cents=250, currency=EUR]" and seen["c"] == "GREEN"
    assert seen["map"] == '{"k"=[1, 2]}' and seen["opt"] == "Optional[x]"
    assert seen["o"] == "Object{}" and seen["named"] == "Named!" and seen["r"] == "<lambda>"
    assert seen["boxed"] == "7"


def test_forged_output_is_only_output(traces):
    traced = traces[FIXTURES / "fake_trace_output.java"]
    kinds = [e["kind"] for e in traced.events]
    assert kinds.count("call") == 1 and kinds.count("return") == 1
    assert traced.stdout == "c\t0\t1\t0\nl\t1\t1\t0\tx\t42\nr\t0\t1\t0\tforged\n"


def test_bench_loop(traces, untraced):
    traced = traces[BENCH]
    lines = sum(1 for e in traced.events if e["kind"] == "line")
    assert 80_000 <= lines <= 100_000 and not traced.footer["truncated"]
    assert traced.stdout == untraced[BENCH].stdout.decode()


LONG = """\
package demo.app;

public class Long {
    public static void main(String[] args) {
        String s = "ab".repeat(200);
        int n = 0;
        for (int i = 0; i < 1000; i++) {
            n += i;
        }
        System.out.println(s.length() + " " + n);
    }
}
"""


def test_package_max_events_and_value(tmp_path, tracer):
    """A program in a package (run as demo.app.Long), cut at 50 events, values cut at 20 characters."""
    path = tmp_path / "Long.java"
    path.write_text(LONG)
    traced = tracer.trace(path, max_events=50, max_value=20)
    footer = traced.footer
    assert footer["status"] == "ok" and footer["truncated"] and footer["truncation"] == "max_events", footer
    assert footer["events"] == 50
    values = [v for e in traced.events if e["kind"] == "line" for v in e["vars"].values()]
    assert '"ababababababababab…' in values  # 20 characters, the marker included


def test_no_channel_no_probes_and_untraced_file_name(java, tracer, traces):
    """Without CODEALCHEMY_TRACE_FD the instrumented program runs alone; the untraced original,
    written as Main.java by the runtime, is renamed after its public class by the compile step."""
    path = FIXTURES / "exceptions.java"
    inst = instrument(path.read_text(), java)
    request = request_for(java, inst.code, inst.source_name, inst.files, tracer.limits, trace=False)
    result = tracer.backend.run(request)
    assert result.run.status == "ok" and result.trace == b""
    plain = tracer.untraced(path)
    assert plain.run.stdout == result.run.stdout == traces[path].stdout.encode()


def test_lines_kept(java):
    """Probes go on the line of the code they report: the original lines keep their numbers."""
    token = re.compile(r"\w+|[^\s\w]")
    for path in PROGRAMS:
        source = path.read_text(encoding="utf-8")
        result = instrument(source, java)
        assert isinstance(result, Instrumented), result
        assert result.source_name == f"{public_class(path)}.java"
        out = result.code.splitlines()
        for n, line in enumerate(source.splitlines()):
            want, have = token.findall(line), iter(token.findall(out[n]))
            assert all(t in have for t in want), (path.name, n + 1, line, out[n])


@pytest.mark.parametrize("program,reason", [
    ("public class A { static void helper() {} }\n", "no static main"),
    ("public class A { public static void main(String[] a) { int _caf1 = 1; } }\n", "reserved"),
])
def test_skips(java, program, reason):
    result = instrument(program, java)
    assert isinstance(result, Skip) and reason in result.reason


def test_diagnostic_regex(java):
    from codealchemy.tracer.tracing import diagnostics
    stderr = b"Main.java:5: error: variable x might not have been initialized\n        int y = x;\n"
    assert diagnostics(java, stderr, "Main.java") == [(5, "x", "variable x might not have been initialized")]


def test_goldens_are_json_lines():
    for path in GOLDEN:
        for line in path.with_suffix(".jsonl").read_text(encoding="utf-8").splitlines():
            json.loads(line)
