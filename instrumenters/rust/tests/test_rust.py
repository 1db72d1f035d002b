"""Rust tracing: goldens, traced == untraced, the repair loop, panics, threads, limits.

Every program is compiled traced and untraced once for the whole module (the `runs` fixture,
three at a time); a rustc build (opt-level 1) takes 0.6-2 s on this machine.
"""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from codealchemy.tracer import plugins, records
from codealchemy.tracer.instrument import Instrumented, Skip, instrument
from codealchemy.tracer.testing import Runs, Tracer, check_golden, check_same_run
from codealchemy.tracer.tracing import diagnostics, request_for

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
CONFORMANCE = HERE / "conformance"
BENCH = FIXTURES / "bench_loop.rs"
PROGRAMS = sorted(p for p in FIXTURES.glob("*.rs") if p != BENCH)
RUSTC = shutil.which("rustc") or (shutil.which("rustc", path="/root/.cargo/bin"))

pytestmark = pytest.mark.skipif(RUSTC is None, reason="rustc is not installed")


@pytest.fixture(scope="module")
def rust():
    return plugins.languages().get("rust")


@pytest.fixture(scope="module")
def runs():
    """The fixtures and the conformance programs all run at the first use, three at a time
    (rustc waits on the sandbox and the disk part of the time: that beats one at a time on two
    cores)."""
    tracer = Tracer(timeout=30)  # per phase: rustc on a loaded 2-core machine can take 10 s
    return Runs(tracer, prefetch=[BENCH, *PROGRAMS, *sorted(CONFORMANCE.glob("*.rs"))], workers=3)


def test_enough_fixtures():
    assert len(PROGRAMS) >= 25


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_golden(path, runs):
    traced, _ = runs(path)
    check_golden(traced.events, path.with_suffix(".jsonl"))


@pytest.mark.parametrize("path", PROGRAMS + sorted(CONFORMANCE.glob("*.rs")),
                         ids=lambda p: p.parent.name + "/" + p.name)
def test_same_output_and_exit_code(path, runs):
    traced, untraced = runs(path)
    # a failure: the program's stderr and the panic message (same location), the same bytes untraced
    check_same_run(traced, untraced.run, same_stderr="ok", failure_tail=True)
    for record in traced.records:
        records.validate(record)


REPAIRS = {
    "repair_move_let.rs": {"name"},
    "repair_move_call.rs": {"data"},
    # reading `r` (the &mut) in a later probe keeps the mutable borrow alive over the program's own
    # `v.len()`: rustc names `v` on a line where the probe no longer reads it, so that line's
    # probe goes as a whole (variable None)
    "repair_mut_borrow.rs": {"v", None},
    "repair_partial_move.rs": {"p"},
    "repair_for_move.rs": {"words"},
}


@pytest.mark.parametrize("name", sorted(REPAIRS))
def test_repair_loop_drops_what_rustc_rejects(name, runs):
    traced, untraced = runs(FIXTURES / name)
    repairs = traced.header.get("repairs")
    assert repairs, "the repair loop did not run"
    assert {r["variable"] for r in repairs} == REPAIRS[name]
    assert all(re.search(r"moved value|borrowed as mutable", r["reason"]) for r in repairs), repairs
    assert traced.footer["status"] == "ok" and traced.stdout == untraced.run.stdout.decode()
    assert [e["kind"] for e in traced.events][0] == "call"


def test_repairs_keep_the_other_reads(runs):
    traced, _ = runs(FIXTURES / "repair_move_let.rs")
    seen = {}
    for e in traced.events:
        if e["kind"] == "line":
            seen.update(e["vars"])
    assert seen == {"name": '"ferris"', "owner": '"ferris"', "len": "6"}


def test_repairs_are_only_about_moves_and_borrows(runs):
    """The loop fires on ordinary programs too (a closure holding `&mut count`, a match that moves
    out of a Result, `iter_mut`): always for a move or a borrow, and the trace comes out ok."""
    fired = {p.name: runs(p)[0].header["repairs"] for p in PROGRAMS if runs(p)[0].header.get("repairs")}
    assert set(REPAIRS) <= set(fired)
    for name, repairs in fired.items():
        assert runs(FIXTURES / name)[0].footer["status"] in ("ok", "runtime_error")
        assert all(re.search(r"moved value|borrow|doesn't implement `Debug`", r["reason"]) for r in repairs), \
            (name, repairs)


def test_values_whose_debug_depends_on_a_type_argument_render_as_type_names(runs):
    """`Vec<T>` without `T: Debug` (seen in rust-rosetta's combinations and power-set programs):
    declared types are read by type name at once; the unannotated `result` costs one repair
    round, which names the type, and the function renders by type name from that line on."""
    traced, untraced = runs(FIXTURES / "no_debug_nested.rs")
    assert traced.footer["status"] == "ok" and traced.stdout == untraced.run.stdout.decode()
    debug = [r for r in traced.header["repairs"] if "Debug" in r["reason"]]
    assert [(r["line"], r["variable"]) for r in debug] == [(33, "T")]
    values: dict[tuple[str, str], set[str]] = defaultdict(set)
    for e in traced.events:
        for k, v in {**e.get("args", {}), **e.get("vars", {})}.items():
            values[e["func"], k].add(v)
    assert values["combinations", "items"] == {"<[i32]>"}             # declared `&[T]`
    assert values["combinations", "result"] == {"<Vec<Vec<i32>>>"}    # after the repair
    assert values["combinations", "k"] == {"0", "1", "2"}             # integers keep their values
    assert values["Stack::push", "self"] == {"<Stack<Card>>"}         # impl<T> Stack<T>
    assert {v[:16] for v in values["main", "picks"]} == {"[[1, 2], [1, 3],"}   # Debug where it applies


def test_main_frame_and_depths(runs):
    traced, _ = runs(FIXTURES / "recursion.rs")
    events = [e for e in traced.events if e["kind"] != "output"]
    assert events[0] == {"kind": "call", "func": "main", "line": 16, "frame": 1, "depth": 0, "args": {}}
    assert events[-1] == {"kind": "return", "func": "main", "line": 20, "frame": 1, "depth": 0, "value": "()"}
    calls = [e for e in events if e["kind"] == "call"]
    assert len({e["frame"] for e in calls}) == len(calls)
    facts = [(e["depth"], e["args"]["n"]) for e in calls if e["func"] == "fact"]
    assert facts == [(1, "4"), (2, "3"), (3, "2"), (4, "1")]
    returns = [e["value"] for e in events if e["kind"] == "return" and e["func"] == "fact"]
    assert returns == ["1", "2", "6", "24"]


def test_loop_headers_fire_like_settrace(runs):
    traced, _ = runs(FIXTURES / "loops.rs")
    lines = [e["line"] for e in traced.events if e["kind"] == "line"]
    assert lines[:8] == [2, 3, 4, 3, 4, 3, 4, 3]  # `while` checked n+1 times


def test_uncaught_panic(runs):
    traced, untraced = runs(FIXTURES / "panic_uncaught.rs")
    assert traced.footer["exit_code"] == untraced.run.exit_code == 101
    stderr = untraced.run.stderr.decode()
    assert "panicked at main.rs:2:13:\nindex out of bounds: the len is 3 but the index is 7" in stderr
    assert traced.footer["stderr"] == stderr
    tail = [(e["kind"], e["func"], e["line"]) for e in traced.events if e["kind"] != "output"][-6:]
    assert tail == [("exception", "lookup", 2), ("return", "lookup", 2), ("exception", "middle", 8),
                    ("return", "middle", 8), ("exception", "main", 15), ("return", "main", 15)]
    exc = next(e for e in traced.events if e["kind"] == "exception")
    assert exc["type"] == "panic" and exc["message"] == "index out of bounds: the len is 3 but the index is 7"
    assert [e["value"] for e in traced.events if e["kind"] == "return"][-1] is None


def test_caught_panics_and_program_hooks(runs):
    traced, untraced = runs(FIXTURES / "panic_catch.rs")
    assert untraced.run.stderr == b""  # the program's own (silent) hook still runs
    # the closures given to catch_unwind are not frames (a try block), so `divide` is the only
    # traced frame the first panic unwinds; the second panic unwinds no traced frame at all
    exc = [(e["func"], e["depth"], e["message"]) for e in traced.events if e["kind"] == "exception"]
    assert exc == [("divide", 1, "division by zero: 1")]
    hook = [e["depth"] for e in traced.events if e.get("func") == "main::{closure#1}"]
    assert hook == [2, 2, 1, 1]  # the program's hook is a traced closure, called inside each panic
    assert traced.stdout == "4 true\ntrue\n"


def test_process_exit_flushes(runs):
    traced, untraced = runs(FIXTURES / "process_exit.rs")
    assert traced.footer["exit_code"] == untraced.run.exit_code == 3
    last = [e for e in traced.events if e["kind"] == "line"][-1]
    assert (last["func"], last["line"]) == ("check", 6)
    assert traced.stdout == "too big, exiting\n"


IMPORTED = """\
use std::panic::{catch_unwind, set_hook};
use std::process::exit;

fn boom(n: i32) -> i32 {
    if n > 1 {
        panic!("boom {}", n);
    }
    n
}

fn main() {
    set_hook(Box::new(|info| eprintln!("custom: {}", info)));
    let r = catch_unwind(|| boom(2));
    println!("{}", r.is_err());
    exit(4);
}
"""


def test_hook_and_exit_imported_by_name(tmp_path, runs):
    path = tmp_path / "imported.rs"
    path.write_text(IMPORTED)
    traced, untraced = runs(path)
    assert traced.footer["exit_code"] == untraced.run.exit_code == 4
    assert traced.stderr == untraced.run.stderr.decode() == "custom: panicked at main.rs:6:9:\nboom 2\n"
    exc = [(e["func"], e["message"]) for e in traced.events if e["kind"] == "exception"]
    assert exc == [("boom", "boom 2")]
    assert traced.stdout == "true\n"  # flushed before exit


def test_main_returning_err(runs):
    traced, untraced = runs(FIXTURES / "main_result.rs")
    assert traced.footer["exit_code"] == untraced.run.exit_code == 1
    returns = [(e["func"], e["value"]) for e in traced.events if e["kind"] == "return"]
    assert returns[-2:] == [("step", 'Err(Oops("step 2 failed"))'), ("main", 'Err(Oops("step 2 failed"))')]


def test_values_without_debug(runs):
    traced, _ = runs(FIXTURES / "no_debug.rs")
    seen = {}
    for e in traced.events:
        if e["kind"] == "line" and e["func"] == "main":
            seen.update(e["vars"])
    assert seen["s"] == "<Secret>" and seen["w"] == "<Wrapper<Vec<i32>>>" and seen["f"] == "<closure>"
    assert "repairs" not in traced.header  # a type without Debug never needs the repair loop
    call = next(e for e in traced.events if e["kind"] == "call" and e["func"] == "reveal")
    assert call["args"] == {"s": "<Secret>"}  # a reference renders as what it points to, as in Debug


def test_threads_have_their_own_frames(runs):
    traced, _ = runs(FIXTURES / "threads.rs")
    frames = defaultdict(list)
    for e in traced.events:
        if e["kind"] != "output":
            frames[e["frame"]].append(e)
    work = [evs for evs in frames.values() if evs[0]["func"] == "work"]
    assert len(work) == 2
    for evs in work:
        assert evs[0]["kind"] == "call" and evs[-1]["kind"] == "return"
        assert {e["depth"] for e in evs} == {1}  # the spawned closure is depth 0 on its thread
    closures = [evs for evs in frames.values() if evs[0]["func"].startswith("main::{closure")]
    assert len(closures) == 2 and all(evs[0]["depth"] == 0 for evs in closures)


def test_no_channel_no_probes(rust, runs):
    """Without CODEALCHEMY_TRACE_FD the instrumented program runs alone, with the same output."""
    path = FIXTURES / "panic_catch.rs"
    inst = instrument(path.read_text(), rust)
    request = request_for(rust, inst.code, inst.source_name, inst.files, runs.tracer.limits, trace=False)
    result = runs.tracer.backend.run(request)
    _, untraced = runs(path)
    assert result.run.status == "ok"
    assert result.run.stdout == untraced.run.stdout and result.trace == b""


def test_max_events_and_value(tmp_path, runs):
    path = tmp_path / "long.rs"
    path.write_text('fn main() {\n    let s = "ab".repeat(200);\n    let mut n = 0;\n    for i in 0..1000 {\n'
                    '        n += i;\n    }\n    println!("{} {}", s.len(), n);\n}\n')
    traced = runs.tracer.trace(path, max_events=50, max_value=20)
    footer = traced.footer
    assert footer["truncated"] and footer["truncation"] == "max_events"
    assert footer["status"] == "ok" and footer["events"] == 50
    values = [v for e in traced.events if e["kind"] == "line" for v in e["vars"].values()]
    assert '"ababababababababab…' in values  # 20 characters, the marker included


def test_forged_output_is_only_output(runs):
    traced, _ = runs(FIXTURES / "fake_trace_output.rs")
    kinds = [e["kind"] for e in traced.events]
    assert kinds.count("call") == 1 and kinds.count("return") == 1
    assert traced.stdout == "c\t0\t1\t0\nl\t1\t1\t0\tx\t42\nr\t0\t1\t0\tforged\n"


def test_bench_loop(runs):
    traced, untraced = runs(BENCH)
    lines = sum(1 for e in traced.events if e["kind"] == "line")
    assert 80_000 <= lines <= 100_000 and not traced.footer["truncated"]
    assert traced.stdout == untraced.run.stdout.decode()


NOT_COMPILING = """\
fn main() {
    let x: i32 = "text";
    println!("{}", x);
}
"""


def test_a_program_that_does_not_compile_is_not_repaired(tmp_path, runs):
    path = tmp_path / "bad.rs"
    path.write_text(NOT_COMPILING)
    traced = runs.tracer.trace(path)
    untraced = runs.tracer.untraced(path)
    assert untraced.compile.status == traced.footer["status"] == "compile_error"
    assert "repairs" not in traced.header
    assert "mismatched types" in traced.footer["stderr"]


@pytest.mark.parametrize("program,reason", [
    ("fn helper() {}\n", "no fn main"),
    ("fn main() { let __ca_x = 1; }\n", "reserved"),
    ("#![no_std]\n#![no_main]\nfn main() {}\n", "no_std"),
])
def test_skips(rust, program, reason):
    result = instrument(program, rust)
    assert isinstance(result, Skip) and reason in result.reason


def test_lines_kept(rust):
    """Probes go at the ends of lines: every original line keeps its number and its start."""
    for path in PROGRAMS:
        source = path.read_text(encoding="utf-8")
        result = instrument(source, rust)
        assert isinstance(result, Instrumented), (path.name, result)
        src, out = source.splitlines(), result.code.splitlines()
        assert len(out) == len(src), path.name
        for a, b in zip(src[1:], out[1:], strict=True):
            if not re.search(r"\b(for|while|if|return|exit)\b|=>|\?|\|", a):
                assert b.startswith(a), (path.name, a, b)


def test_diagnostic_regex_matches_rustc(rust):
    stderr = (b"error[E0382]: borrow of moved value: `x`\n --> main.rs:12:5\n  |\n"
              b"error: aborting due to 1 previous error\n")
    assert diagnostics(rust, stderr, "main.rs") == [(12, "x", "borrow of moved value: `x`")]
