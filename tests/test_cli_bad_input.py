"""Bad input never crashes the CLI: one line on stderr, a non-zero exit, a footer in --json mode."""

import json
import subprocess
import sys

import pytest

TRACE = [sys.executable, "-m", "codealchemy.tracer.cli"]

CASES = {
    "syntax.py": (b"def broken(:\n    pass\n", "skipped", "syntax error at line 1"),
    "latin1.py": ("x = 'caf\u00e9'\n".encode("latin-1"), "skipped", "not UTF-8"),
    "empty.py": (b"", "skipped", "empty file"),
    "blob.py": (bytes(range(256)) * 4, "skipped", "UTF-8"),
    "notes.zz": (b"hello\n", "input_error", "unknown extension .zz"),
    "huge.py": (b"x = 1\n" * (20 * 1024 * 1024 // 6), "input_error", "over the"),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    for name, (data, _, _) in CASES.items():
        (root / name).write_bytes(data)
    return root


def run(*args):
    return subprocess.run([*TRACE, *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", [*CASES, "missing.py"])
def test_one_clear_line_and_non_zero_exit(inputs, name):
    done = run("run", inputs / name)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trace: "), done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize("name", [*CASES, "missing.py"])
def test_json_mode_ends_with_a_footer_giving_status_and_reason(inputs, name):
    done = run("run", "--json", inputs / name)
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["kind"] for r in records] == ["header", "footer"]
    status, reason = CASES.get(name, (None, "input_error", "no such file"))[1:]
    assert records[-1]["status"] == status
    assert reason in records[-1]["reason"]
    assert done.returncode == 2


def test_debug_variable_shows_the_traceback_of_an_internal_error(tmp_path):
    bad = tmp_path / "a.py"
    bad.write_text("x = 1\n")
    base = run("run", bad, "--memory", "lots")
    assert base.returncode != 0 and "Traceback" not in base.stderr and "not a size" in base.stderr
    debug = subprocess.run([*TRACE, "run", str(bad), "--memory", "lots"], capture_output=True, text=True,
                           env={**__import__("os").environ, "CODEALCHEMY_DEBUG": "1"})
    assert "Traceback" in debug.stderr
