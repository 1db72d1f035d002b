"""The Python rewriter against its oracle (sys.settrace on the same interpreter).

For every fixture: the line events (function, line, changed variables) equal the oracle's, or
differ exactly as the README documents (KNOWN_DIFFERENCES); the whole event stream matches its
golden; the program's stdout, stderr and exit code are the same traced and untraced.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.instrument import Instrumented, instrument
from codealchemy.tracer.limits import Limits
from codealchemy.tracer.testing import Tracer, check_golden
from codealchemy.tracer.tracing import request_for

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.py"))
ADDRESS = re.compile(r"0x[0-9a-fA-F]+")

_spec = importlib.util.spec_from_file_location("codealchemy_python_oracle", HERE / "oracle.py")
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)

#: Constructs where the rewriter cannot (yet) match settrace. Each entry is the exact difference:
#: the line events the oracle shows that the rewriter does not ("missing") and the other way
#: round ("extra"), as [func, line, vars], in order. README.md explains each one.
KNOWN_DIFFERENCES: dict[str, dict[str, list[list]]] = json.loads(
    (HERE / "known_differences.json").read_text(encoding="utf-8"))


def norm(value):
    if isinstance(value, str):
        return ADDRESS.sub("0x…", value)
    if isinstance(value, dict):
        return {k: norm(v) for k, v in value.items()}
    return value


def norm_event(e: dict) -> dict:
    return {k: norm(v) for k, v in e.items()}


def line_events(events: list[dict]) -> list[tuple]:
    return [(e["func"], e["line"], norm(e["vars"])) for e in events if e["kind"] == "line"]


@functools.cache
def tracer() -> Tracer:
    return Tracer()


def _run_all() -> None:
    """Trace, run untraced and run the oracle on every fixture at once (the runs mostly wait)."""
    from concurrent.futures import ThreadPoolExecutor
    jobs = [(kind, name) for name in NAMES for kind in ("traced", "oracle", "untraced", "raw")]
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) * 2)) as pool:
        for (kind, name), res in zip(jobs, pool.map(lambda j: _run(*j), jobs), strict=True):
            _RESULTS[kind, name] = res


def _run(kind: str, name: str):
    path = FIXTURES / f"{name}.py"
    if kind == "traced":
        return tracer().trace(path)
    if kind == "oracle":
        return oracle.oracle_events(path)
    if kind == "untraced":
        return tracer().untraced(path).run
    inst = instrument(path.read_bytes(), lang())
    assert isinstance(inst, Instrumented), inst
    return tracer().backend.run(request_for(lang(), inst.code, inst.source_name, inst.files, Limits())).run


_RESULTS: dict = {}


def result(kind: str, name: str):
    if (kind, name) not in _RESULTS:
        if not _RESULTS:
            _run_all()
        if (kind, name) not in _RESULTS:
            _RESULTS[kind, name] = _run(kind, name)
    return _RESULTS[kind, name]


def traced(name: str):
    return result("traced", name)


def expected(name: str) -> list[dict]:
    return result("oracle", name)


def lang():
    return plugins.languages().get("python")


def test_enough_fixtures():
    assert len(NAMES) >= 40


def difference(want: list[tuple], got: list[tuple]) -> dict[str, list]:
    """Line events only the oracle has ("missing") and only the rewriter has ("extra")."""
    import difflib
    w = [[f, ln, v] for f, ln, v in want]
    g = [[f, ln, v] for f, ln, v in got]
    key = lambda e: json.dumps(e, sort_keys=True)  # noqa: E731
    missing, extra = [], []
    ops = difflib.SequenceMatcher(a=[key(e) for e in w], b=[key(e) for e in g], autojunk=False).get_opcodes()
    for op, i1, i2, j1, j2 in ops:
        if op in ("delete", "replace"):
            missing += w[i1:i2]
        if op in ("insert", "replace"):
            extra += g[j1:j2]
    return {"missing": missing, "extra": extra}


@pytest.mark.parametrize("name", NAMES)
def test_parity_with_settrace(name):
    got = line_events(traced(name).events)
    want = line_events(expected(name))
    known = KNOWN_DIFFERENCES.get(name)
    if known is None:
        assert got == want
    else:
        # the documented difference, exactly (README.md, "Known differences")
        assert difference(want, got) == {"missing": known["missing"], "extra": known["extra"]}


@pytest.mark.parametrize("name", NAMES)
def test_golden(name):
    events = [norm_event(e) for e in traced(name).events]
    check_golden(events, FIXTURES / f"{name}.jsonl")


@pytest.mark.parametrize("name", NAMES)
def test_program_unchanged(name):
    """Same stdout (byte for byte), stderr and exit code with and without tracing."""
    plain = result("untraced", name)
    ran = result("raw", name)
    assert ran.stdout == plain.stdout
    assert ran.exit_code == plain.exit_code
    assert ran.stderr == plain.stderr
    footer = traced(name).footer
    assert footer["exit_code"] == plain.exit_code
    assert traced(name).stdout == plain.stdout.decode("utf-8")


def test_without_channel_probes_do_nothing():
    """Instrumented code run without CODEALCHEMY_TRACE_FD behaves like the original."""
    path = FIXTURES / "gcd_loop.py"
    inst = instrument(path.read_bytes(), lang())
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "main.py").write_text(inst.code, encoding="utf-8")
        for fname, data in inst.files.items():
            Path(tmp, fname).parent.mkdir(parents=True, exist_ok=True)
            Path(tmp, fname).write_bytes(data)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("CODEALCHEMY_")}, **lang().runtime.env}
        out = subprocess.run(["/usr/bin/python3", "main.py"], cwd=tmp, env=env, capture_output=True)
    plain = subprocess.run(["/usr/bin/python3", str(path)], capture_output=True)
    assert out.returncode == 0
    assert out.stdout == plain.stdout


def test_max_events_truncates():
    t = tracer().trace(FIXTURES / "gcd_loop.py", max_events=50)
    footer = t.footer
    assert footer["truncated"] is True
    assert footer["truncation"] == "max_events"
    assert footer["events"] == 50
    assert len([e for e in t.events if e["kind"] != "output"]) == 50
    assert footer["status"] == "ok"


def test_values_are_cut_at_max_value(tmp_path):
    src = tmp_path / "long.py"
    src.write_text("s = 'x' * 500\nt = list(range(300))\nprint(len(s), len(t))\n", encoding="utf-8")
    t = tracer().trace(src, max_value=20)
    values = [v for e in t.events if e["kind"] == "line" for v in e["vars"].values()]
    assert values, t.events
    assert all(len(v) <= 20 for v in values)
    assert any(v.endswith("…") for v in values)
    assert t.stdout == "500 300\n"


def test_printed_records_cannot_forge_events():
    t = traced("fake_records")
    lines = [e for e in t.events if e["kind"] == "line"]
    assert [e["line"] for e in lines] == [1, 2, 3, 4]
    assert all(e["func"] == "<module>" for e in t.events if "func" in e)
    assert "forged" not in json.dumps([e for e in t.events if e["kind"] != "output"])
    assert "l\t0\t1\t0\tx\t'forged'\n" in t.stdout


def test_uncaught_exception_keeps_traceback():
    t = traced("uncaught_exception")
    kinds = [(e["kind"], e.get("func")) for e in t.events if e["kind"] in ("exception", "return")]
    assert ("exception", "check") in kinds and ("exception", "<module>") in kinds
    assert t.footer["exit_code"] == 1
    assert "RuntimeError: too big: 3" in t.footer["stderr"]
    assert "_codealchemy" not in t.footer["stderr"]


def test_syntax_error_is_skipped(tmp_path):
    src = tmp_path / "bad.py"
    src.write_text("print 'python 2'\n", encoding="utf-8")
    t = tracer().trace(src)
    assert t.footer["status"] in ("skipped",)




def test_utf8_bom_source_is_traced():
    """A source saved with a UTF-8 byte-order mark (Python accepts it) is traced like any other:
    the mark stays first, before the probes, and the output is the program's."""
    path = HERE / "encodings" / "utf8_bom.py"
    inst = instrument(path.read_bytes(), lang())
    assert isinstance(inst, Instrumented), inst
    assert inst.data.startswith(b"\xef\xbb\xbf") and inst.data.count(b"\xef\xbb\xbf") == 1
    t = tracer().trace(path)
    plain = tracer().untraced(path).run
    assert t.footer["status"] == "ok", t.footer
    assert t.stdout == plain.stdout.decode() == "DÉJÀ VU!\n"
    assert [e["line"] for e in t.events if e["kind"] == "line"][:3] == [1, 2, 5]
    assert t.header["code"].startswith("\ufeffword = ")



def test_listing_the_folder_shows_the_programs_files_only(tmp_path):
    """The prelude lives in a hidden folder: os.listdir / glob list what they list untraced."""
    src = tmp_path / "listing.py"
    src.write_text("import glob, os\nprint(sorted(glob.glob('*')))\n"
                   "print(sorted(f for f in os.listdir('.') if not f.startswith('.')))\n", encoding="utf-8")
    t = tracer().trace(src)
    plain = tracer().untraced(src).run
    assert t.footer["status"] == "ok", t.footer
    assert t.stdout == plain.stdout.decode() == "['main.py']\n['main.py']\n"



def test_instrumenting_prints_no_syntax_warning_of_the_program():
    """`x is 1` warns when compiled: the program's run shows it, the host (a batch's stderr) not."""
    import warnings

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        inst = instrument(b"x = 1\nprint(x is 1)\n", lang())
    assert isinstance(inst, Instrumented), inst
    assert [w for w in seen if issubclass(w.category, SyntaxWarning)] == []


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
