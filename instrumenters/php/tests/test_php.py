"""PHP tracing: goldens, traced == untraced, lines kept, limits, no-op probes, conformance."""

from __future__ import annotations

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
BENCH = FIXTURES / "bench_loop.php"
PROGRAMS = sorted(p for p in FIXTURES.glob("*.php") if p != BENCH)

pytestmark = pytest.mark.skipif(shutil.which("php") is None, reason="php is not installed")


@pytest.fixture(scope="module")
def php():
    return plugins.languages().get("php")


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
def test_lines_kept(path, php):
    """Probes go on the lines they belong to: line numbers in PHP's messages stay right."""
    source = path.read_text(encoding="utf-8")
    check_lines_kept(source, instrument(source, php))


def test_frames_depths_and_returns(runs):
    traced, _ = runs(FIXTURES / "recursion.php")
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
    traced, untraced = runs(FIXTURES / "uncaught.php")
    assert traced.footer["exit_code"] == untraced.run.exit_code == 255
    assert traced.footer["stderr"] == untraced.run.stderr.decode()
    assert "Uncaught InvalidArgumentException: bad item: 2 in /work/main.php:5" in traced.footer["stderr"]
    exc = [(e["func"], e["type"]) for e in traced.events if e["kind"] == "exception"]
    assert exc == [("check", "InvalidArgumentException"), ("process", "InvalidArgumentException"),
                   ("<module>", "InvalidArgumentException")]
    tail = [(e["kind"], e["func"], e.get("value", "-")) for e in traced.events[-2:]]
    assert tail == [("exception", "<module>", "-"), ("return", "<module>", None)]


def test_html_around_php_is_output_unchanged(runs):
    traced, untraced = runs(FIXTURES / "html_page.php")
    assert traced.stdout == untraced.run.stdout.decode() and traced.stdout.startswith("\n<!DOCTYPE html>")
    names = {k for e in traced.events if e["kind"] == "line" for k in e["vars"]}
    assert "title" in names and not any(k.startswith("$") for k in names)


def test_limits_max_events_and_max_value(runs, tmp_path):
    prog = tmp_path / "big.php"
    prog.write_text('<?php\n$s = str_repeat("x", 500);\n$i = 0;\n'
                    'while ($i < 1000) {\n  $i++;\n}\necho strlen($s), "\\n";\n')
    traced = runs.tracer.trace(prog, max_events=50, max_value=20)
    footer = traced.footer
    assert footer["truncated"] and footer["truncation"] == "max_events"
    assert footer["events"] == 50 and footer["exit_code"] == 0
    values = [v for e in traced.events if e["kind"] == "line" for v in e["vars"].values()]
    assert "'xxxxxxxxxxxxxxxxxx\u2026" in values and all(len(v) <= 20 for v in values)


def test_probes_are_noops_without_the_channel(php, tmp_path):
    source = (FIXTURES / "closures.php").read_text(encoding="utf-8")
    result = instrument(source, php)
    for name, data in result.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    (tmp_path / "main.php").write_text(result.code, encoding="utf-8")
    (tmp_path / "plain.php").write_text(source, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEALCHEMY_")}
    traced = subprocess.run(["php", "main.php"], cwd=tmp_path, env=env, capture_output=True, timeout=30)
    plain = subprocess.run(["php", "plain.php"], cwd=tmp_path, env=env, capture_output=True, timeout=30)
    assert traced.returncode == plain.returncode == 0
    assert traced.stdout == plain.stdout and traced.stderr == b""


def test_printing_cannot_forge_events(runs):
    traced, _ = runs(FIXTURES / "output.php")
    assert "l\t0\t1\t0" in traced.stdout
    assert traced.footer["dropped"] == 0


PLACEMENTS = {
    "shebang": "#!/usr/bin/env php\n<?php\necho 'a', \"\\n\";\n",
    "braced_namespace": "<?php\nnamespace A {\n    function f() { return 1; }\n    echo f(), \"\\n\";\n}\n",
    "no_semicolon_before_close": "<?php\n$x = 2;\necho $x ?>\n<b>html</b>\n",
    "blank_then_tag": "  \n<?php echo \"x\\n\";\n",
}


@pytest.mark.parametrize("name", sorted(PLACEMENTS))
def test_prelude_placement(name, runs, tmp_path):
    prog = tmp_path / f"{name}.php"
    prog.write_text(PLACEMENTS[name], encoding="utf-8")
    traced, untraced = runs(prog)
    assert traced.footer["status"] == "ok", traced.footer
    assert traced.stdout == untraced.run.stdout.decode()
    assert traced.events[0]["kind"] == "call" and traced.events[-1]["value"] == "NULL"


def test_html_only_is_a_skip(php):
    assert isinstance(instrument("<p>no php here</p>\n", php), Skip)


@pytest.mark.parametrize("path", sorted(CONFORMANCE.glob("*.php")), ids=lambda p: p.name)
def test_conformance_programs_run_the_same(path, runs):
    traced, untraced = runs(path)
    assert traced.footer["status"] == "ok", traced.footer
    assert traced.stdout == untraced.run.stdout.decode("utf-8")


def _same_output(tracer, php, tmp_path, source: str) -> str:
    """Trace `source` and run it untraced: the same stdout and exit code; returns the stdout."""
    from codealchemy.tracer.tracing import run_untraced

    path = tmp_path / "prog.php"
    path.write_text(source)
    traced = tracer.trace(path)
    plain = run_untraced(source, php, tracer.backend, tracer.limits).run
    assert traced.footer["status"] == "ok" and traced.footer["events"] > 0, traced.footer
    assert (traced.stdout, traced.footer["exit_code"]) == (plain.stdout.decode(), plain.exit_code)
    return traced.stdout


def test_object_ids_are_the_programs(tracer, php, tmp_path):
    """var_dump shows object ids (#N): the prelude holds no object (frames are arrays), so the
    program's objects get the ids they get untraced, at top level and inside calls."""
    out = _same_output(tracer, php, tmp_path, "<?php\nclass P { public $x = 1; }\n"
                       "function make() { $q = new P(); var_dump($q); return $q; }\n"
                       "$p = new P();\nvar_dump($p);\n$r = make();\necho spl_object_id($r), \"\\n\";\n")
    assert out.startswith("object(P)#1 (1) {") and "object(P)#2 (1) {" in out and out.endswith("\n2\n")


def test_listing_the_folder_shows_the_programs_files_only(tracer, php, tmp_path):
    """The prelude lives in a hidden folder: glob('*') and scandir list what they list untraced."""
    out = _same_output(tracer, php, tmp_path, "<?php\nforeach (glob('*') as $f) echo $f, \"\\n\";\n"
                       "echo implode(' ', array_filter(scandir('.'), fn($f) => $f[0] !== '.')), \"\\n\";\n")
    assert out == "main.php\nmain.php\n"
