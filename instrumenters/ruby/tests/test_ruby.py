"""Ruby tracing: goldens, traced == untraced, lines kept, limits, no-op probes, conformance."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.instrument import Skip, instrument
from codealchemy.tracer.testing import check_golden, check_lines_kept, check_same_run

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
CONFORMANCE = HERE / "conformance"
BENCH = FIXTURES / "bench_loop.rb"
PROGRAMS = sorted(p for p in FIXTURES.glob("*.rb") if p != BENCH)

pytestmark = pytest.mark.skipif(shutil.which("ruby") is None, reason="ruby is not installed")


@pytest.fixture(scope="module")
def ruby():
    return plugins.languages().get("ruby")


def test_enough_fixtures():
    assert len(PROGRAMS) >= 20


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_golden(path, runs):
    traced, _ = runs(path)
    check_golden(traced.events, path.with_suffix(".jsonl"))


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_same_stdout_and_exit_code(path, runs):
    traced, untraced = runs(path)
    check_same_run(traced, untraced.run, failure_tail=True)


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_lines_kept(path, ruby):
    """Probes go on the lines they belong to: line numbers in Ruby's messages stay right."""
    source = path.read_text(encoding="utf-8")
    check_lines_kept(source, instrument(source, ruby))


def test_frames_depths_and_implicit_returns(runs):
    traced, _ = runs(FIXTURES / "recursion.rb")
    events = [e for e in traced.events if e["kind"] != "output"]
    assert events[0] == {"kind": "call", "func": "<module>", "line": 1, "frame": 1, "depth": 0, "args": {}}
    assert events[-1]["kind"] == "return" and events[-1]["func"] == "<module>"
    calls = [e for e in events if e["kind"] == "call"]
    assert len({e["frame"] for e in calls}) == len(calls)
    facts = [(e["depth"], e["args"]["n"]) for e in calls if e["func"] == "fact"]
    assert facts == [(1, "5"), (2, "4"), (3, "3"), (4, "2"), (5, "1")]
    returns = [e["value"] for e in events if e["kind"] == "return" and e["func"] == "fact"]
    assert returns == ["1", "2", "6", "24", "120"]


def test_uncaught_exception_keeps_message_and_exit_code(runs):
    traced, untraced = runs(FIXTURES / "uncaught.rb")
    assert traced.footer["exit_code"] == untraced.run.exit_code == 1
    assert traced.footer["stderr"] == untraced.run.stderr.decode()
    assert "main.rb:4:in `block in check'" in traced.footer["stderr"]
    exc = [(e["func"], e["type"]) for e in traced.events if e["kind"] == "exception"]
    assert exc == [("block in check", "ArgumentError"), ("check", "ArgumentError"),
                   ("process", "ArgumentError"), ("<module>", "ArgumentError")]
    tail = [(e["kind"], e["func"], e.get("value", "-")) for e in traced.events[-2:]]
    assert tail == [("exception", "<module>", "-"), ("return", "<module>", None)]


def test_limits_max_events_and_max_value(runs, tmp_path):
    prog = tmp_path / "big.rb"
    prog.write_text('s = "x" * 500\ni = 0\nwhile i < 1000\n  i += 1\nend\nputs s.size\n')
    traced = runs.tracer.trace(prog, max_events=50, max_value=20)
    footer = traced.footer
    assert footer["truncated"] and footer["truncation"] == "max_events"
    assert footer["events"] == 50 and footer["exit_code"] == 0
    values = [v for e in traced.events if e["kind"] == "line" for v in e["vars"].values()]
    assert '"xxxxxxxxxxxxxxxxxx…' in values and all(len(v) <= 20 for v in values)


def test_probes_are_noops_without_the_channel(ruby, tmp_path):
    source = (FIXTURES / "blocks_yield.rb").read_text(encoding="utf-8")
    result = instrument(source, ruby)
    for name, data in result.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    (tmp_path / "main.rb").write_text(result.code, encoding="utf-8")
    (tmp_path / "plain.rb").write_text(source, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEALCHEMY_")}
    traced = subprocess.run(["ruby", "main.rb"], cwd=tmp_path, env=env, capture_output=True, timeout=30)
    plain = subprocess.run(["ruby", "plain.rb"], cwd=tmp_path, env=env, capture_output=True, timeout=30)
    assert traced.returncode == plain.returncode == 0
    assert traced.stdout == plain.stdout and traced.stderr == b""


def test_printing_cannot_forge_events(runs):
    traced, untraced = runs(FIXTURES / "output.rb")
    assert "l\t0\t1\t0" in traced.stdout
    assert traced.footer["dropped"] == 0


def test_no_statements_is_a_skip(ruby):
    assert isinstance(instrument("# only a comment\n", ruby), Skip)


@pytest.mark.parametrize("path", sorted(CONFORMANCE.glob("*.rb")), ids=lambda p: p.name)
def test_conformance_programs_run_the_same(path, runs):
    traced, untraced = runs(path)
    assert traced.footer["status"] == "ok", traced.footer
    assert traced.stdout == untraced.run.stdout.decode("utf-8")


def test_odd_objects_render_without_breaking_the_program(runs, tmp_path):
    prog = tmp_path / "odd.rb"
    prog.write_text(
        "class Weird < BasicObject\n  def initialize\n    @x = 1\n  end\nend\n"
        "class Big\n  def initialize\n    @data = (1..100_000).to_a\n  end\nend\n"
        "w = Weird.new\nb = Big.new\nbinding = 3\nputs binding\n")
    traced, untraced = runs(prog)
    assert traced.footer["status"] == "ok" and traced.stdout == untraced.run.stdout.decode() == "3\n"
    values = {k: v for e in traced.events if e["kind"] == "line" for k, v in e["vars"].items()}
    assert values["w"] == "#<Weird>" and values["binding"] == "3"
    assert values["b"].startswith("#<Big @data=[1, 2, 3") and values["b"].endswith("…")


# `case ... in` (pattern matching): Ruby puts its line event on the first `in` clause, the
# rewriter on the `case` line (as Python does for `match`).
ORACLE_EXCEPTIONS = {"case_when.rb"}


def test_every_native_line_event_is_in_the_trace(tmp_path):
    """Ruby's TracePoint :line events are a subsequence of the traced line events.

    The trace has more: like Python's settrace, it reports loop conditions on every
    evaluation, `elsif`/`when` as they are tested, `begin` lines and bare literals.
    """
    oracle = HERE / "oracle" / "line_oracle.rb"
    for path in PROGRAMS:
        if path.name in ORACLE_EXCEPTIONS:
            continue
        (tmp_path / "main.rb").write_bytes(path.read_bytes())
        subprocess.run(["ruby", str(oracle), str(tmp_path / "lines.txt"), "main.rb"], cwd=tmp_path,
                       capture_output=True, timeout=30)
        native = (tmp_path / "lines.txt").read_text().split()
        golden = [json.loads(line) for line in path.with_suffix(".jsonl").read_text().splitlines()]
        ours = iter(str(e["line"]) for e in golden if e["kind"] == "line")
        assert all(n in ours for n in native), f"{path.name}: a native line event is missing"


def test_listing_the_folder_shows_the_programs_files_only(tracer, ruby, tmp_path):
    """The prelude lives in a hidden folder: Dir["*"] lists what it lists untraced."""
    from codealchemy.tracer.tracing import run_untraced

    source = 'puts Dir["*"].sort\nputs Dir.children(".").reject { |f| f.start_with?(".") }.sort\n'
    path = tmp_path / "prog.rb"
    path.write_text(source)
    traced = tracer.trace(path)
    plain = run_untraced(source, ruby, tracer.backend, tracer.limits).run
    assert traced.footer["status"] == "ok" and traced.footer["events"] > 0, traced.footer
    assert traced.stdout == plain.stdout.decode() == "main.rb\nmain.rb\n"
