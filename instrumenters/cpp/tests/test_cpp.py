"""C++: goldens, traced vs untraced behaviour, exceptions, output, limits, repairs.

Every fixture is instrumented, compiled and run once traced (through the repair loop) and once
untraced, in parallel, through the real sandboxed backend; the tests below read those runs
(g++ is slow: each compile is shared by every check that needs it).
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.instrument import Instrumented, Skip, instrument
from codealchemy.tracer.limits import Limits
from codealchemy.tracer.testing import check_golden
from codealchemy.tracer.tracing import _run_with_repairs, request_for
from codealchemy.tracer.wire import Decoder

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
PROGRAMS = sorted(FIXTURES.glob("*.cpp"))
NAMES = [p.stem for p in PROGRAMS]

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")


def lang():
    return plugins.languages().get("cpp")


def backend():
    return plugins.backends()["local"]()


class Run:
    def __init__(self, source: str, limits: Limits | None = None, options: dict | None = None,
                 untraced: bool = True):
        self.limits = limits = limits or Limits(timeout=30)
        cpp = lang()
        inst = instrument(source, cpp, options)
        assert isinstance(inst, Instrumented), inst
        self.inst, self.traced, self.repairs = _run_with_repairs(source.encode(), inst, cpp, backend(), limits)
        self.untraced = backend().run(request_for(cpp, source, cpp.runtime.source, {}, limits, trace=False)) \
            if untraced else None
        self.decoder = Decoder(self.inst.probe_map(), max_events=limits.max_events, max_value=limits.max_value)
        self.events = list(self.decoder.feed(self.traced.trace))

    def output(self, stream: str) -> str:
        return "".join(e["text"] for e in self.events if e["kind"] == "output" and e["stream"] == stream)


@pytest.fixture(scope="module")
def runs() -> dict[str, Run]:
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        done = pool.map(lambda p: Run(p.read_text(encoding="utf-8")), PROGRAMS)
        return dict(zip(NAMES, done, strict=True))


def test_enough_fixtures():
    assert len(PROGRAMS) >= 25


@pytest.mark.parametrize("name", NAMES)
def test_golden(runs, name):
    run = runs[name]
    assert run.traced.compile.ok, run.traced.compile.stderr.decode()
    assert run.decoder.dropped == 0
    check_golden(run.events, FIXTURES / f"{name}.jsonl")


@pytest.mark.parametrize("name", NAMES)
def test_same_behaviour_traced_and_untraced(runs, name):
    run = runs[name]
    t, u = run.traced.run, run.untraced.run
    assert t is not None and u is not None
    assert t.stdout == u.stdout
    assert t.stderr == u.stderr
    assert (t.exit_code, t.signal, t.status) == (u.exit_code, u.signal, u.status)
    # the output events are what the program wrote, in order
    assert run.output("stdout") == t.stdout.decode()
    assert run.output("stderr") == t.stderr.decode()


def test_events_are_well_formed(runs):
    for name, run in runs.items():
        depth = {}
        for e in run.events:
            if e["kind"] == "output":
                continue
            assert e["line"] >= 1, name
            if e["kind"] == "call":
                depth[e["frame"]] = e["depth"]
            else:
                assert depth.get(e["frame"]) == e["depth"], (name, e)
        first = next(e for e in run.events if e["kind"] != "output")
        assert (first["kind"], first["func"], first["frame"], first["depth"]) == ("call", "main", 1, 0), name


def test_only_the_repair_fixtures_needed_repairs(runs):
    repaired = {name: run.repairs for name, run in runs.items() if run.repairs}
    assert sorted(repaired) == ["repair_lambda_const", "repair_void_lambda"]


def test_repair_of_a_constant_read_in_a_captureless_lambda(runs):
    """`N` may be used in a lambda without capturing it (a constant, not odr-used), but the
    probe's read of it is an odr-use: g++ says "'N' is not captured" and the loop drops
    exactly that read."""
    run = runs["repair_lambda_const"]
    assert {(r["line"], r["variable"]) for r in run.repairs} == {(7, "N"), (8, "N")}
    assert all("not captured" in r["reason"] for r in run.repairs)
    lines = [e for e in run.events if e["kind"] == "line" and e["func"] == "<lambda>"]
    assert lines and all("N" not in e["vars"] for e in lines)
    assert any("x" in e["vars"] for e in lines)


def test_repair_of_a_lambda_returning_a_void_call(runs):
    """`return visit(-1);` in a lambda whose return type is deduced `void`: the rewriter cannot
    know it is void, g++ rejects rendering it ("invalid use of void expression", no variable
    named): the loop drops that line's probes, the rest stays."""
    run = runs["repair_void_lambda"]
    assert [(r["line"], r["variable"]) for r in run.repairs] == [(13, None)]
    assert "invalid use of void expression" in run.repairs[0]["reason"]
    lam = [e for e in run.events if e.get("func") == "<lambda>"]
    assert [e["kind"] for e in lam][-1] == "return" and lam[-1]["value"] == ""
    assert not [e for e in lam if e["kind"] == "line" and e["line"] == 13]
    assert run.traced.run.stdout == run.untraced.run.stdout == b"3\n"


def test_variable_length_arrays_are_never_read(runs):
    """A GNU variable-length array is no valid template argument: it is not shown (so no
    repair is needed), arrays of constant size are."""
    run = runs["vla"]
    assert not run.repairs
    shown = {k for e in run.events if e["kind"] == "line" for k in e["vars"]}
    assert "squares" not in shown and {"fixed", "small", "n", "k"} <= shown


def test_exceptions_pass_through_frames(runs):
    events = [e for e in runs["exceptions"].events if e["kind"] in ("exception", "return") and e.get("value") is None]
    unwound = [(e["kind"], e["func"]) for e in events]
    # thrown in parse_digit, through sum_digits into checked (caught, rethrown), into main
    assert unwound[:7] == [("exception", "parse_digit"), ("return", "parse_digit"),
                           ("exception", "sum_digits"), ("return", "sum_digits"),
                           ("exception", "checked"), ("exception", "checked"), ("return", "checked")]
    types = [e["type"] for e in runs["exceptions"].events if e["kind"] == "exception"]
    assert "std::out_of_range" in types and "int" in types


def test_uncaught_exception_aborts_as_untraced(runs):
    run = runs["uncaught"]
    assert run.traced.run.signal == run.untraced.run.signal == 6
    assert b"terminate called after throwing an instance of 'std::runtime_error'" in run.traced.run.stderr
    exc = [e for e in run.events if e["kind"] == "exception"]
    assert [e["type"] for e in exc] == ["std::runtime_error"]
    assert exc[0]["func"] == "fail" and exc[0]["message"] == "deep failure"


def test_crash_reports_the_signal(runs):
    run = runs["segfault"]
    exc = [e for e in run.events if e["kind"] == "exception"]
    assert [(e["type"], e["func"]) for e in exc] == [("SIGSEGV", "read_at")]
    assert run.traced.run.signal == run.untraced.run.signal


def test_exit_from_a_nested_frame(runs):
    run = runs["exit_code"]
    assert run.traced.run.exit_code == run.untraced.run.exit_code == 3


def test_printed_records_cannot_forge_events(runs):
    run = runs["forge"]
    assert [e["kind"] for e in run.events].count("call") == 1
    assert all(e.get("vars", {}).get("secret") != "999" for e in run.events)
    assert "l\t0\t1\t0\tsecret\t999\n" in run.output("stdout")
    assert run.output("stderr") == "r\t0\t1\t0\t42\n"


def test_destructors_run_inside_the_frame_before_its_return(runs):
    seq = [(e["kind"], e["func"]) for e in runs["raii"].events if e["kind"] in ("call", "return")]
    # work(5): inner and g destroyed (traced ~Guard frames), then work's return
    i = seq.index(("call", "work"), seq.index(("call", "work")) + 1)
    assert seq[i + 1:i + 9] == [("call", "Guard::Guard"), ("return", "Guard::Guard"),
                                ("call", "Guard::Guard"), ("return", "Guard::Guard"),
                                ("call", "Guard::~Guard"), ("return", "Guard::~Guard"),
                                ("call", "Guard::~Guard"), ("return", "Guard::~Guard")]
    assert seq[i + 9] == ("return", "work")


def test_max_events_truncates_and_the_program_runs_on():
    run = Run((FIXTURES / "loops.cpp").read_text(), Limits(timeout=30, max_events=10), untraced=False)
    assert run.decoder.truncated == "max_events"
    assert len([e for e in run.events if e["kind"] != "output"]) == 10
    assert run.traced.run.stdout == b"3 -1 22\n"
    assert run.traced.trace.count(b"t\tmax_events\n") == 1


def test_max_value_cuts_long_values():
    source = ("#include <vector>\n#include <string>\nint main() {\n    std::vector<int> v(100, 7);\n"
              "    std::string s(500, 'a');\n    return 0;\n}\n")
    run = Run(source, Limits(timeout=30, max_value=40), untraced=False)
    values = [v for e in run.events if e["kind"] == "line" for v in e["vars"].values()]
    assert values and all(len(v) <= 40 for v in values)
    assert sum(v.endswith("…") for v in values) == 2


def test_untraced_instrumented_program_is_silent():
    """Without CODEALCHEMY_TRACE_FD the probes are no-ops and the streams are left alone."""
    cpp = lang()
    source = (FIXTURES / "mixed_output.cpp").read_text()
    inst = instrument(source, cpp)
    plain = backend().run(request_for(cpp, inst.code, inst.source_name, inst.files, Limits(timeout=30), trace=False))
    assert plain.run.stdout == b"printf 1\ncout 2\nputs 5\nno newline\n"
    assert plain.run.stderr == b"stderr 3\ncerr 4\nclog 6\n"


def test_line_numbers_survive_in_compiler_diagnostics():
    source = "#include <cstdio>\n\nint main() {\n    int x = 1;\n    return y;\n}\n"
    cpp = lang()
    inst = instrument(source, cpp)
    result = backend().run(request_for(cpp, inst.code, inst.source_name, inst.files, Limits(timeout=30)))
    assert result.compile.status == "compile_error"
    assert "main.cpp:5:" in result.compile.stderr.decode()


def test_no_main_is_skipped():
    assert isinstance(instrument("int f() { return 1; }\n", lang()), Skip)
    assert isinstance(instrument("struct S { int main() { return 0; } };\n", lang()), Skip)
    assert isinstance(instrument("  \n", lang()), Skip)


def test_uninitialised_scalars_are_not_read():
    source = ("int main() {\n    int x;\n    int y;\n    if (y = 2) x = 1; else x = 3;\n    x++;\n"
              "    return x + y;\n}\n")
    code = instrument(source, lang()).code
    line5 = code.splitlines()[6]      # two prelude lines first
    assert '__ca::__v("x", x)' in line5 and '__ca::__v("y", y)' in line5
    line4 = code.splitlines()[5]
    assert "__ca::__v(" not in line4.split("if")[0]


def test_the_trace_header_lists_the_repairs(tracer):
    """Through the public path (trace_source): the header says what the loop dropped."""
    traced = tracer.trace(FIXTURES / "repair_lambda_const.cpp")
    assert traced.footer["status"] == "ok"
    assert [(r["line"], r["variable"]) for r in traced.header["repairs"]] == [(7, "N"), (8, "N")]
    assert traced.stdout == "12\n"
