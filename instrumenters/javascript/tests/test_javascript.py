"""JavaScript (node) tracing: goldens, traced == untraced, TDZ safety, limits, forged output."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.instrument import Skip, instrument
from codealchemy.tracer.testing import check_golden, check_lines_kept, check_same_run

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
PROGRAMS = sorted(p for p in FIXTURES.iterdir() if p.suffix in (".js", ".mjs", ".cjs"))

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


@pytest.fixture(scope="module")
def js():
    return plugins.languages().get("javascript")


def test_enough_fixtures():
    assert len(PROGRAMS) >= 25


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_golden(path, runs):
    traced, _ = runs(path)
    check_golden(traced.events, path.with_suffix(".jsonl"))


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_same_stdout_and_exit_code(path, runs):
    traced, untraced = runs(path)
    check_same_run(traced, untraced.run)


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_lines_kept(path, js):
    """Probes go on the lines they belong to: line numbers in node's errors stay right."""
    source = path.read_text(encoding="utf-8")
    check_lines_kept(source, instrument(source, js), trailing=1)


def test_frames_and_depths(runs):
    traced, _ = runs(FIXTURES / "recursion.js")
    events = [e for e in traced.events if e["kind"] != "output"]
    assert events[0] == {"kind": "call", "func": "<module>", "line": 1, "frame": 1, "depth": 0, "args": {}}
    calls = [e for e in events if e["kind"] == "call"]
    assert len({e["frame"] for e in calls}) == len(calls)
    facts = [(e["depth"], e["args"]["n"]) for e in calls if e["func"] == "fact"]
    assert facts == [(1, "4"), (2, "3"), (3, "2"), (4, "1")]
    returns = [(e["func"], e["value"]) for e in events if e["kind"] == "return" and e["func"] == "fact"]
    assert returns == [("fact", "1"), ("fact", "2"), ("fact", "6"), ("fact", "24")]


def test_uncaught_exception(runs):
    traced, untraced = runs(FIXTURES / "uncaught_error.js")
    assert traced.footer["exit_code"] == untraced.run.exit_code == 1
    assert "TypeError: not an object: oops" in traced.footer["stderr"]
    assert "TypeError: not an object: oops" in untraced.run.stderr.decode()
    # the same source line in node's message
    assert "main.js:3" in traced.footer["stderr"] and "main.js:3" in untraced.run.stderr.decode()
    tail = [(e["kind"], e["func"], e.get("value", "-")) for e in traced.events[-4:]]
    assert tail == [("exception", "parse", "-"), ("return", "parse", None),
                    ("exception", "<module>", "-"), ("return", "<module>", None)]


def test_exceptions_pass_through_frames(runs):
    traced, _ = runs(FIXTURES / "throw_propagation.js")
    exc = [(e["func"], e["type"]) for e in traced.events if e["kind"] == "exception"]
    assert exc == [("level3", "ValidationError"), ("level2", "ValidationError"), ("level1", "ValidationError")]


TDZ_PROGRAM = """\
let a = 1;
{
  console.log("before inner a");
  let a = 2;
  console.log(a);
}
function outer() {
  inner();
  const late = 5;
  function inner() { return 1; }
  const get = () => late;
  return get();
}
console.log(outer());
switch (1) {
  case 0:
    const skipped = 1;
    break;
  case 1:
    console.log("case 1");
}
for (let i = 0; i < 2; i++) {
  console.log(i);
  let t = i;
}
class K { static make() { return new K(); } }
console.log(typeof K.make(), a);
"""


def test_tdz_never_read(tmp_path, js, runs):
    path = tmp_path / "tdz_inline.js"
    path.write_text(TDZ_PROGRAM)
    traced = runs.tracer.trace(path)
    untraced = runs.tracer.untraced(path)
    assert traced.footer["status"] == "ok", traced.footer
    assert traced.stdout == untraced.run.stdout.decode()
    assert not [e for e in traced.events if e["kind"] == "exception"]
    code = instrument(TDZ_PROGRAM, js).code.splitlines()
    # line 3: the inner `a` is in its TDZ and shadows the outer one, so `a` is not read
    assert '"a"' not in code[2]
    assert '"a"' in code[4]
    # the switch case 1 never reads `skipped`; the loop header never reads `t`
    assert '"skipped"' not in code[19] and '"t"' not in code[21] and '"t"' not in code[22]
    # `late` is captured by the arrow defined after it, not read before its declaration
    assert '"late"' not in code[7] and '"late"' in code[10]


def test_tdz_fixture_has_only_its_own_reference_error(runs):
    traced, _ = runs(FIXTURES / "tdz.js")
    exc = [(e["type"], e["line"]) for e in traced.events if e["kind"] == "exception"]
    assert exc == [("ReferenceError", 31)]  # the program's own `console.log(z)`


def test_max_events(runs):
    path = FIXTURES / "loops.js"
    traced = runs.tracer.trace(path, max_events=10)
    _, untraced = runs(path)
    footer = traced.footer
    assert footer["truncated"] is True and footer["truncation"] == "max_events"
    assert footer["events"] == 10
    assert len([e for e in traced.events if e["kind"] != "output"]) == 10
    assert footer["exit_code"] == 0
    assert untraced.run.stdout.decode() == "0,1,4,a,b,h,i 0 6\n"


def test_max_value(runs):
    traced = runs.tracer.trace(FIXTURES / "loops.js", max_value=12)
    values = [v for e in traced.events if e["kind"] == "line" for v in e["vars"].values()]
    assert values and all(len(v) <= 12 for v in values)
    assert any(v.endswith("…") for v in values)


def test_printing_records_cannot_forge_events(runs):
    traced, untraced = runs(FIXTURES / "fake_trace_output.js")
    frames = {e["frame"] for e in traced.events if "frame" in e}
    assert frames == {1}
    assert not any(e["kind"] == "line" and e["vars"].get("x") == "42" for e in traced.events)
    assert traced.footer["truncated"] is False
    assert "l\t0\t1\t0\tx\t42\n" in traced.stdout
    assert traced.stdout == untraced.run.stdout.decode()


def test_output_in_order_with_events(runs):
    traced, _ = runs(FIXTURES / "stderr_output.js")
    outs = [(e["stream"], e["text"]) for e in traced.events if e["kind"] == "output"]
    assert outs == [("stdout", "to stdout\n"), ("stderr", "to stderr\n"),
                    ("stdout", "no newline|"), ("stdout", "then newline\n"),
                    ("stderr", "warning 42\n")]
    kinds = [e["kind"] for e in traced.events]
    assert kinds.index("output") > kinds.index("line")


def test_process_exit_flushes(runs):
    traced, _ = runs(FIXTURES / "process_exit.js")
    assert traced.footer["exit_code"] == 3
    assert traced.events[-2] == {"kind": "output", "stream": "stdout", "text": "exiting with 3\n"}
    assert traced.events[-1] == {"kind": "line", "func": "finish", "line": 3, "frame": 2, "depth": 1, "vars": {}}


def test_esm_is_traced(runs):
    traced, _ = runs(FIXTURES / "esm_module.mjs")
    assert traced.footer["status"] == "ok"
    assert traced.stdout == "c.txtc.txt undefined\n"
    assert any(e["kind"] == "call" and e["func"] == "twice" for e in traced.events)


def test_with_statement_is_skipped(js):
    result = instrument("var o = {a: 1};\nwith (o) { console.log(a); }\n", js)
    assert isinstance(result, Skip) and "with" in result.reason


def test_reserved_names_are_skipped(js):
    result = instrument("const __ca = 1;\n", js)
    assert isinstance(result, Skip)


def test_untraced_prelude_is_inert(tmp_path, js):
    """Instrumented code also runs without the trace channel (every probe a no-op)."""
    import subprocess

    source = (FIXTURES / "generators.js").read_text()
    result = instrument(source, js)
    for name, data in result.files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "main.js").write_text(result.code)
    plain = tmp_path / "plain.js"
    plain.write_text(source)
    a = subprocess.run(["node", "main.js"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    b = subprocess.run(["node", "plain.js"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout


def test_function_names(runs):
    traced, _ = runs(FIXTURES / "classes.js")
    names = {e["func"] for e in traced.events if e["kind"] == "call"}
    assert {"Rect.constructor", "Shape.constructor", "Rect.make", "Rect.get area", "Rect.set width",
            "Shape.describe"} <= names
    traced, _ = runs(FIXTURES / "arrows.js")
    names = {e["func"] for e in traced.events if e["kind"] == "call"}
    assert {"double", "add", "<anonymous>"} <= names


def test_values_are_inspect_like(runs):
    traced, _ = runs(FIXTURES / "map_set.js")
    seen = {}
    for e in traced.events:
        if e["kind"] == "line":
            seen.update(e["vars"])
    assert seen["m"] == "Map(2) { 'a' => 1, 'b' => { nested: [ 1, 2 ] } }"
    assert seen["s"] == "Set(3) { 2, 3, 4 }"
    assert re.fullmatch(r"\[ 'a=1', 'b=\{\"nested\":\[1,2\]\}' \]", seen["keys"])


def _run_channel(folder: Path, code: str, prelude: bytes) -> bytes:
    import os
    import subprocess

    (folder / "main.js").write_text(code)
    (folder / "_codealchemy.cjs").write_bytes(prelude)
    trace = folder / "trace"
    with trace.open("wb") as fh:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CODEALCHEMY_TRACE_FD": str(fh.fileno())}
        subprocess.run(["node", "main.js"], cwd=folder, env=env, pass_fds=(fh.fileno(),),
                       capture_output=True, timeout=30, check=True)
    return trace.read_bytes()


def test_render_cache_is_transparent(tmp_path, js):
    """Skipping the rendering of unchanged values (fingerprints) changes no record."""
    source = (HERE / "programs" / "mutations.js").read_text()
    result = instrument(source, js)
    prelude = result.files["_codealchemy.cjs"].decode()
    nocache = prelude.replace("if (print !== null && sameFp(print, prev.fp)) continue;", "")
    nocache = nocache.replace("if (prim) continue;", "")
    assert nocache != prelude
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cached = _run_channel(tmp_path / "a", result.code, prelude.encode())
    plain = _run_channel(tmp_path / "b", result.code, nocache.encode())
    assert cached == plain
    assert cached.count(b"\nl\t") >= 20


def test_bounded_rendering_matches_inspect():
    """Trimmed rendering of big/nested values == util.inspect cut at max_value (fuzzed)."""
    import subprocess

    prelude = HERE.parent / "prelude" / "_codealchemy.cjs"
    p = subprocess.run(["node", str(HERE / "programs" / "render_fuzz.js"), str(prelude)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.count("mismatches 0") == 3
