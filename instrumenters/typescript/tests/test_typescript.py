"""TypeScript tracing: goldens, traced == untraced, types survive, TDZ safety, limits."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.instrument import Instrumented, instrument
from codealchemy.tracer.testing import check_golden, check_lines_kept, check_same_run
from codealchemy.tracer.tracing import request_for

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
CONFORMANCE = HERE / "conformance"
BENCH = FIXTURES / "bench_loop.ts"
PROGRAMS = sorted(p for p in FIXTURES.glob("*.ts") if p != BENCH)
PRELUDE = HERE.parent / "prelude" / "_codealchemy.ts"

pytestmark = pytest.mark.skipif(shutil.which("tsc") is None or shutil.which("node") is None,
                                reason="tsc (npm typescript) or node is not installed")


@pytest.fixture(scope="module")
def ts():
    return plugins.languages().get("typescript")


def test_enough_fixtures():
    assert len(PROGRAMS) >= 20


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_golden(path, runs):
    traced, _ = runs(path)
    check_golden(traced.events, path.with_suffix(".jsonl"))


@pytest.mark.parametrize("path", PROGRAMS + sorted(CONFORMANCE.glob("*.ts")),
                         ids=lambda p: p.parent.name + "/" + p.name)
def test_same_output_and_exit_code(path, runs):
    traced, untraced = runs(path)
    check_same_run(traced, untraced.run, same_stderr="ok")


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_lines_kept(path, ts):
    """Probes go on the lines they belong to: line numbers in errors and stack traces stay."""
    source = path.read_text(encoding="utf-8")
    check_lines_kept(source, instrument(source, ts), trailing=1)


TYPED = """\
interface Box<T> { value: T }
type Pair = [string, number];
enum E { A = 1, B }
declare const maybe: number | undefined;
abstract class Base { abstract get(): number; }
class Impl extends Base {
  constructor(private readonly n: number, public tag?: string) { super(); }
  get(): number { return this.n; }
}
function wrap<T>(value: T): Box<T> {
  const box: Box<T> = { value };
  return box;
}
function overloaded(x: number): number;
function overloaded(x: string): string;
function overloaded(x: number | string): number | string { return x; }
const p: Pair = ["a", 1];
const n: number = wrap<number>(p[1]).value + new Impl(2).get() + E.B;
const s = overloaded("q") as string;
export {};
"""


def test_types_survive(tmp_path, ts):
    """Every type annotation, interface, generic and enum is still there after the rewrite."""
    result = instrument(TYPED, ts)
    assert isinstance(result, Instrumented), result
    code = result.code
    for piece in ("interface Box<T> { value: T }", "type Pair = [string, number];", "enum E { A = 1, B }",
                  "declare const maybe: number | undefined;", "abstract get(): number;",
                  "private readonly n: number, public tag?: string", "function wrap<T>(value: T): Box<T>",
                  "const box: Box<T> = { value };", "function overloaded(x: number): number;",
                  "wrap<number>(p[1])", 'overloaded("q") as string'):
        assert piece in code, piece
    # no probe before declarations that exist only for the type checker
    lines = code.splitlines()
    for i in (0, 1, 3):
        assert "__ca.l(" not in lines[i]


@pytest.mark.skipif(shutil.which("tsc") is None, reason="tsc is not installed")
def test_rewritten_code_transpiles_and_keeps_types(tmp_path, ts):
    """tsc parses the rewritten program (and the prelude) without syntax errors, and a probe
    keeps the type of the expression it wraps (ret<T> returns T)."""
    result = instrument(TYPED, ts)
    (tmp_path / "main.ts").write_text(result.code)
    (tmp_path / "_codealchemy.ts").write_text(PRELUDE.read_text())
    run = subprocess.run(["tsc", "--noCheck", "--target", "es2022", "--module", "commonjs", "--outDir", "out",
                          "main.ts", "_codealchemy.ts"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "out" / "main.js").exists()


def test_module_frame_and_depths(runs):
    traced, _ = runs(FIXTURES / "recursion.ts")
    events = [e for e in traced.events if e["kind"] != "output"]
    assert events[0] == {"kind": "call", "func": "<module>", "line": 1, "frame": 1, "depth": 0, "args": {}}
    calls = [e for e in events if e["kind"] == "call"]
    assert len({e["frame"] for e in calls}) == len(calls)
    facts = [(e["depth"], e["args"]["n"]) for e in calls if e["func"] == "fact"]
    assert facts == [(1, "4"), (2, "3"), (3, "2"), (4, "1")]


def test_uncaught_exception(runs):
    traced, untraced = runs(FIXTURES / "uncaught_error.ts")
    assert traced.footer["exit_code"] == untraced.run.exit_code == 1
    message = "TypeError: not a number: oops"
    assert message in traced.footer["stderr"] and message in untraced.run.stderr.decode()
    # the stack trace names the same lines of main.ts (source maps)
    for where in ("main.ts:4:", "main.ts:10:"):
        assert where in traced.footer["stderr"] and where in untraced.run.stderr.decode()
    tail = [(e["kind"], e["func"], e.get("value", "-")) for e in traced.events if e["kind"] != "output"][-4:]
    assert tail == [("exception", "parse", "-"), ("return", "parse", None),
                    ("exception", "<module>", "-"), ("return", "<module>", None)]


def test_exceptions_caught(runs):
    traced, _ = runs(FIXTURES / "exceptions.ts")
    exc = [(e["func"], e["type"], e["message"]) for e in traced.events if e["kind"] == "exception"]
    assert exc == [("validate", "ValidationError", "negative age: -1"),
                   ("check", "ValidationError", "negative age: -1")]


TDZ = """\
let a: number = 1;
{
  console.log("before inner a");
  let a: string = "two";
  console.log(a);
}
function outer(): number {
  const late: number = 5;
  const get = (): number => late;
  return get();
}
console.log(outer(), a);
"""


def test_tdz_never_read(tmp_path, ts, runs):
    path = tmp_path / "tdz.ts"
    path.write_text(TDZ)
    traced = runs.tracer.trace(path)
    assert traced.footer["status"] == "ok", traced.footer
    assert traced.stdout == "before inner a\ntwo\n5 1\n"
    assert not [e for e in traced.events if e["kind"] == "exception"]
    code = instrument(TDZ, ts).code.splitlines()
    assert '"a"' not in code[2]   # the inner `a` is in its TDZ there and shadows the outer one
    assert '"a"' in code[4]


def test_no_channel_no_probes(ts, runs):
    path = FIXTURES / "closures.ts"
    inst = instrument(path.read_text(), ts)
    request = request_for(ts, inst.code, inst.source_name, inst.files, runs.tracer.limits, trace=False)
    result = runs.tracer.backend.run(request)
    _, untraced = runs(path)
    assert result.run.status == "ok"
    assert result.run.stdout == untraced.run.stdout and result.trace == b""


def test_max_events_and_value(tmp_path, runs):
    path = tmp_path / "long.ts"
    path.write_text('const s: string = "ab".repeat(200);\nlet n = 0;\nfor (let i = 0; i < 1000; i++) {\n'
                    '  n += i;\n}\nconsole.log(s.length, n);\n')
    traced = runs.tracer.trace(path, max_events=50, max_value=20)
    footer = traced.footer
    assert footer["truncated"] and footer["truncation"] == "max_events"
    assert footer["status"] == "ok" and footer["events"] == 50
    values = [v for e in traced.events if e["kind"] == "line" for v in e["vars"].values()]
    assert any(v.endswith("…") and len(v) == 20 for v in values)


def test_forged_output_is_only_output(runs):
    traced, _ = runs(FIXTURES / "fake_trace_output.ts")
    kinds = [e["kind"] for e in traced.events]
    assert kinds.count("call") == 1 and kinds.count("return") == 1
    assert traced.stdout == "c\t0\t1\t0\nl\t1\t1\t0\tx\t42\nr\t0\t1\t0\tforged\n"


def test_process_exit_flushes(runs):
    traced, untraced = runs(FIXTURES / "process_exit.ts")
    assert traced.footer["exit_code"] == untraced.run.exit_code == 3
    last = [e for e in traced.events if e["kind"] == "line"][-1]
    assert (last["func"], last["line"]) == ("check", 4)


def test_bench_loop(runs):
    traced, untraced = runs(BENCH)
    lines = sum(1 for e in traced.events if e["kind"] == "line")
    assert 80_000 <= lines <= 100_000 and not traced.footer["truncated"]
    assert traced.stdout == untraced.run.stdout.decode() == "21783\n"


def test_prelude_has_every_function_the_rewriter_calls(tmp_path):
    """The rewriter is JavaScript's: whatever `__ca.NAME(` it emits, this prelude must export."""
    import re

    source = (HERE.parent.parent / "javascript" / "rewrite.py").read_text()
    called = set(re.findall(r"\{CA\}\.(\w+)\(", source)) | set(re.findall(r"__ca\.(\w+)\(", source))
    called -= set(re.findall(r'"(\w+)"', re.search(r"^JS_ONLY_CALLS = \((.*)\)$", source, re.M).group(1)))
    (tmp_path / "_codealchemy.ts").write_text(PRELUDE.read_text())
    subprocess.run(["tsc", "--noCheck", "--target", "es2022", "--module", "commonjs", "_codealchemy.ts"],
                   cwd=tmp_path, check=True, capture_output=True)
    keys = subprocess.run(["node", "-e", "console.log(Object.keys(require('./_codealchemy.js')).join(' '))"],
                          cwd=tmp_path, check=True, capture_output=True, text=True).stdout.split()
    assert called and called <= set(keys), sorted(called - set(keys))
