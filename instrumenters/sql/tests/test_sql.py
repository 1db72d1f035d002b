"""SQL (SQLite): goldens, traced output == the sqlite3 CLI's, markers keep lines, limits."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.instrument import Instrumented, instrument
from codealchemy.tracer.testing import check_golden, check_same_run

HERE = Path(__file__).parent
BENCH = HERE / "fixtures" / "bench_loop.sql"
FIXTURES = sorted(p for p in (HERE / "fixtures").glob("*.sql") if p != BENCH)
CLI_ERROR = re.compile(r"^(Parse|Runtime) error near line \d+: .*$", re.M)

pytestmark = pytest.mark.skipif(plugins.languages().get("sql").runtime.missing_tools() != [],
                                reason="sqlite3 or /usr/bin/python3 is not installed")


@pytest.fixture(scope="module")
def sql():
    return plugins.languages().get("sql")


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture(tracer, path):
    """The golden trace; stdout and exit code as the sqlite3 CLI gives them; same error lines."""
    traced = tracer.trace(path)
    check_golden(traced.events, path.with_suffix(".jsonl"))
    plain = tracer.untraced(path).run
    check_same_run(traced, plain)
    # the CLI adds the statement and a caret under a parse error: compare the error lines
    assert [m.group(0) for m in CLI_ERROR.finditer(traced.stderr)] == \
        [m.group(0) for m in CLI_ERROR.finditer(plain.stderr.decode())]


def test_fixture_count():
    assert len(FIXTURES) >= 20


def test_one_probe_per_statement_and_lines_kept(sql):
    for path in FIXTURES:
        source = path.read_text()
        result = instrument(source, sql)
        assert isinstance(result, Instrumented), (path.name, result)
        assert result.code.count("\n") == source.count("\n")
        assert re.sub(r"/\*@ca \d+\*/", "", result.code) == source


def test_statements_split_like_the_cli(sql):
    source = "SELECT 1; SELECT 2;\n-- note\nCREATE TRIGGER t AFTER INSERT ON x BEGIN\n  DELETE FROM y;\nEND;\n"
    result = instrument("CREATE TABLE x(a INTEGER);\nCREATE TABLE y(a INTEGER);\n" + source, sql)
    assert isinstance(result, Instrumented), result
    assert [p.line for p in result.probes] == [1, 2, 3, 3, 5]


def test_instrumented_script_still_runs_in_the_cli(sql, tmp_path):
    path = HERE / "fixtures" / "joins.sql"
    result = instrument(path.read_text(), sql)
    (tmp_path / "main.sql").write_text(result.code)
    out = subprocess.run(["sqlite3", "-batch", ":memory:"], stdin=(tmp_path / "main.sql").open(),
                         capture_output=True, text=True)
    plain = subprocess.run(["sqlite3", "-batch", ":memory:"], stdin=path.open(), capture_output=True, text=True)
    assert (out.stdout, out.returncode) == (plain.stdout, plain.returncode)


def test_limits(tracer):
    traced = tracer.trace(BENCH, max_events=40, max_value=30)
    assert traced.footer["truncation"] == "max_events"
    assert len([e for e in traced.events if e["kind"] != "output"]) == 40
    values = [v for e in traced.events if e["kind"] == "line" for v in e["vars"].values()]
    assert values and all(len(v) <= 30 for v in values)
    assert any(v.endswith("…") for v in values)


def test_conformance_programs_are_all_skipped():
    skipped = {line.split(":", 1)[0] for line in (HERE / "conformance" / "SKIPPED").read_text().splitlines() if line}
    assert skipped == {"recursion", "gcd_loop", "sort", "reverse", "counter", "exception", "closure",
                       "nested_loops", "early_return", "collections"}
    assert not list((HERE / "conformance").glob("*.sql"))


def test_explain_listing_is_laid_out_as_the_cli_does(tracer, sql, tmp_path):
    """EXPLAIN's bytecode listing: the CLI pads it into columns under a header and indents loop
    bodies (Next jumps back; a Goto back to a coroutine's Yield); the runner printed a|b|c rows."""
    from codealchemy.tracer.tracing import run_untraced

    source = ("CREATE TABLE t(a INTEGER, b TEXT);\nCREATE INDEX t_a ON t(a);\n"
              "INSERT INTO t VALUES (1, 'x'), (2, 'né');\n"
              "EXPLAIN SELECT b FROM t WHERE a = 2;\n"
              "EXPLAIN SELECT * FROM (SELECT a FROM t UNION ALL SELECT a + 1 FROM t) ORDER BY 1;\n"
              "EXPLAIN SELECT 'a string wider than thirteen characters';\n")
    path = tmp_path / "prog.sql"
    path.write_text(source)
    traced = tracer.trace(path)
    plain = run_untraced(source, sql, tracer.backend, tracer.limits).run
    assert traced.footer["status"] == "ok" and traced.footer["events"] > 0, traced.footer
    assert plain.stdout.startswith(b"addr  opcode         p1    p2    p3    p4             p5  comment      \n")
    assert re.search(rb"^\d {7}[A-Z]", plain.stdout, re.M)   # a loop body's opcode, indented by 2
    assert traced.stdout == plain.stdout.decode()
