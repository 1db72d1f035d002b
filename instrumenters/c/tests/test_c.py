"""C: goldens, traced vs untraced behaviour, definite assignment, limits, forging.

Every fixture is instrumented, compiled and run once traced and once untraced (in parallel,
through the real sandboxed backend); the tests below read those runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.instrument import Instrumented, Skip, instrument
from codealchemy.tracer.limits import Limits
from codealchemy.tracer.testing import check_golden
from codealchemy.tracer.tracing import request_for
from codealchemy.tracer.wire import Decoder

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
PROGRAMS = sorted(FIXTURES.glob("*.c"))
NAMES = [p.stem for p in PROGRAMS]
PRELUDE = HERE.parent / "prelude"

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")


def lang():
    return plugins.languages().get("c")


class Run:
    def __init__(self, inst: Instrumented, traced, untraced, limits: Limits):
        self.inst = inst
        self.traced = traced
        self.untraced = untraced
        decoder = Decoder(inst.probe_map(), max_events=limits.max_events, max_value=limits.max_value)
        self.events = list(decoder.feed(traced.trace))
        self.decoder = decoder

    def output(self, stream: str) -> str:
        return "".join(e["text"] for e in self.events if e["kind"] == "output" and e["stream"] == stream)


def run_program(source: str, limits: Limits | None = None, options: dict | None = None) -> Run:
    limits = limits or Limits(timeout=20)
    c = lang()
    inst = instrument(source, c, options)
    assert isinstance(inst, Instrumented), inst
    backend = plugins.backends()["local"]()
    traced = backend.run(request_for(c, inst.code, inst.source_name, inst.files, limits))
    untraced = backend.run(request_for(c, source, c.runtime.source, {}, limits, trace=False))
    return Run(inst, traced, untraced, limits)


@pytest.fixture(scope="module")
def runs() -> dict[str, Run]:
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        done = pool.map(lambda p: run_program(p.read_text(encoding="utf-8")), PROGRAMS)
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
        first = run.events[0]
        assert (first["kind"], first["func"], first["frame"], first["depth"]) == ("call", "main", 1, 0), name


def test_crashes_report_the_signal(runs):
    expected = {"segfault": "SIGSEGV", "divzero": "SIGFPE", "assert_abort": "SIGABRT"}
    for name, sig in expected.items():
        exc = [e for e in runs[name].events if e["kind"] == "exception"]
        assert [e["type"] for e in exc] == [sig], name
        assert runs[name].traced.run.signal == runs[name].untraced.run.signal


def test_exit_from_a_nested_frame(runs):
    run = runs["exit_code"]
    assert run.traced.run.exit_code == 3
    assert run.events[-1]["kind"] == "output" or run.events[-1]["func"] == "check"


def test_printed_records_cannot_forge_events(runs):
    run = runs["forge"]
    assert [e["kind"] for e in run.events].count("call") == 1
    assert not [e for e in run.events if e["kind"] == "exception"]
    assert all(e.get("vars", {}).get("secret") != "999" for e in run.events)
    assert "l\t0\t1\t0\tsecret\t999\n" in run.output("stdout")
    assert "r\t0\t1\t0\t42\n" == run.output("stderr")


ORACLE_FIXTURES = ["loops", "goto", "switch", "definite", "pointers", "static_locals", "globals", "fnptr"]


def _normalised(events: list[dict]) -> list[dict]:
    """Stack addresses depend on the compiled code, which differs between the two builds."""
    text = json.dumps(events, sort_keys=True)
    return json.loads(re.sub(r"stack[-+]0x[0-9a-f]+", "stack", text))


def test_changed_variables_analysis_loses_no_change():
    """A probe reports only the variables that may have changed since the frame's previous
    event; with option report_all it reports every assigned visible variable. The host keeps
    only what changed, so both must give the same events."""
    def both(name):
        source = (FIXTURES / f"{name}.c").read_text()
        return name, run_program(source, options={"report_all": True}).events, run_program(source).events
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(both, ORACLE_FIXTURES))
    for name, oracle, events in results:
        assert _normalised(events) == _normalised(oracle), name


def test_max_events_truncates_and_the_program_runs_on():
    source = (FIXTURES / "loops.c").read_text()
    run = run_program(source, Limits(timeout=20, max_events=10))
    assert run.decoder.truncated == "max_events"
    assert len([e for e in run.events if e["kind"] != "output"]) == 10
    assert run.traced.run.stdout == run.untraced.run.stdout
    assert run.traced.trace.count(b"t\tmax_events\n") == 1


def test_max_value_cuts_long_values():
    source = (FIXTURES / "arrays.c").read_text()
    run = run_program(source, Limits(timeout=20, max_value=40))
    values = [v for e in run.events if e["kind"] == "line" for v in e["vars"].values()]
    assert values and all(len(v) <= 40 for v in values)
    assert any(v.endswith("…") for v in values)


def test_untraced_instrumented_program_is_silent():
    """Without CODEALCHEMY_TRACE_FD the probes are no-ops and stdio is left alone."""
    c = lang()
    source = (FIXTURES / "stderr_output.c").read_text()
    inst = instrument(source, c)
    backend = plugins.backends()["local"]()
    limits = Limits(timeout=20)
    plain = backend.run(request_for(c, inst.code, inst.source_name, inst.files, limits, trace=False))
    orig = backend.run(request_for(c, source, c.runtime.source, {}, limits, trace=False))
    assert (plain.run.stdout, plain.run.stderr, plain.run.exit_code) == \
        (orig.run.stdout, orig.run.stderr, orig.run.exit_code)


def test_line_numbers_survive_in_compiler_diagnostics():
    source = "#include <stdio.h>\n\nint main(void) {\n    int x = 1;\n    return y;\n}\n"
    c = lang()
    inst = instrument(source, c)
    backend = plugins.backends()["local"]()
    result = backend.run(request_for(c, inst.code, inst.source_name, inst.files, Limits(timeout=20)))
    assert result.compile.status == "compile_error"
    assert "main.c:5:" in result.compile.stderr.decode()


def test_no_main_is_skipped():
    assert isinstance(instrument("int f(void) { return 1; }\n", lang()), Skip)
    assert isinstance(instrument("   \n", lang()), Skip)


# --- no probe reads an uninitialised variable ----------------------------------------------

def _build(tmp: Path, name: str, flags: list[str]) -> subprocess.CompletedProcess:
    inst = instrument((FIXTURES / f"{name}.c").read_text(), lang())
    work = tmp / name
    work.mkdir()
    for fname, data in inst.files.items():
        (work / fname).parent.mkdir(parents=True, exist_ok=True)
        (work / fname).write_bytes(data)
    (work / "main.c").write_text(inst.code)
    link = [] if "-c" in flags else ["-lm"]
    return subprocess.run(["gcc", "-std=gnu11", *flags, "-o", "main", "main.c", *link], cwd=work,
                          capture_output=True, text=True)


GCC_FIXTURES = ["definite", "goto", "loops", "switch", "structs", "unions", "static_locals", "array_fill"]


def test_instrumented_code_has_no_uninitialised_reads_by_gcc():
    """gcc's own analysis, at -O2 where it is strongest, finds no (maybe-)uninitialised use
    in the fixtures with declarations that have no initialiser."""
    flags = ["-O2", "-c", "-Wuninitialized", "-Wmaybe-uninitialized", "-Werror=uninitialized",
             "-Werror=maybe-uninitialized"]
    with tempfile.TemporaryDirectory() as tmp:
        with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
            results = list(pool.map(lambda n: (n, _build(Path(tmp), n, flags)), GCC_FIXTURES))
    bad = {n: r.stderr for n, r in results if r.returncode != 0}
    assert not bad, bad


VALGRIND_FIXTURES = ["definite", "unions", "strings", "array_fill"]


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_no_uninitialised_reads_under_valgrind():
    """Memcheck tracks definedness bit by bit: a probe that renders an uninitialised value
    makes a conditional jump on it (digit loops, string scans) and is reported."""
    with tempfile.TemporaryDirectory() as tmp:
        def check(name):
            build = _build(Path(tmp), name, ["-O0", "-g"])
            assert build.returncode == 0, build.stderr
            work = Path(tmp) / name
            with open(work / "trace", "wb") as fh:
                env = {**os.environ, "CODEALCHEMY_TRACE_FD": str(fh.fileno())}
                proc = subprocess.run(
                    ["valgrind", "--error-exitcode=99", "--track-origins=yes", "-q", "./main"],
                    cwd=work, env=env, pass_fds=(fh.fileno(),), capture_output=True, text=True)
            return name, proc.returncode, proc.stderr, (work / "trace").stat().st_size
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(check, VALGRIND_FIXTURES))
    for name, code, stderr, size in results:
        assert code != 99 and "uninitialised" not in stderr, (name, stderr)
        assert size > 0, name


# --- big generated programs compile in time --------------------------------------------------

def _generated(functions: int, statements: int) -> str:
    out = ["#include <stdio.h>"]
    for f in range(functions):
        out += [f"static int f{f}(int x) {{", *(f"    x += {i % 7};" for i in range(statements)), "    return x;", "}"]
    out += ["int main(void) {", "    int x = 0;", *(f"    x = f{f}(x);" for f in range(functions)),
            '    printf("%d\\n", x);', "    return 0;", "}"]
    return "\n".join(out) + "\n"


def test_big_functions_and_files_are_compiled_unoptimised():
    """gcc -O1 takes 14 s on one instrumented 5,000-statement function: such functions, and
    every function of a file with that many probes, get optimize("O0"); small ones do not."""
    attr = '__attribute__((optimize("O0")))'
    small = instrument(_generated(3, 50), lang())
    assert attr not in small.code
    one_big = instrument(_generated(1, 450), lang())
    assert one_big.code.count(attr) == 1 and f"{attr} static int f0(" in one_big.code
    many = instrument(_generated(8, 300), lang())
    assert many.code.count(attr) == 9          # 8 functions and main


def test_a_5000_line_generated_program_is_traced():
    source = _generated(1, 5000)
    run = run_program(source, Limits(timeout=60, max_events=20))
    assert run.traced.compile.ok, run.traced.compile.stderr.decode()
    assert run.traced.run.stdout == run.untraced.run.stdout == b"14995\n"
    assert run.decoder.truncated == "max_events"
    assert [e["line"] for e in run.events if e["kind"] == "line"][:3] == [5006, 5007, 3]   # main, its call, f0
