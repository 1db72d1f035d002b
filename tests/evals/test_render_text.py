"""The trace-text form: every event kind, determinism, one form for all languages, explicit cuts,
and reading it back."""

from __future__ import annotations

import hashlib
import io
import random

import pytest
from te_programs import PYTHON
from te_pytrace import trace_python

from codealchemy.tracer import records
from codealchemy.tracer.render_text import (
    SourceUnavailable,
    TextOptions,
    numbered,
    parse_steps,
    program_text,
    render,
    split_assignments,
    steps,
)


def _trace(language: str = "python", status: str = "ok", **foot) -> list[dict]:
    head = records.header(language=language, source="p", sha256="0" * 64, instrumenter={}, limits={}, tool="t")
    ev = [
        {"kind": "line", "func": "<module>", "line": 1, "frame": 1, "depth": 0, "vars": {}},
        {"kind": "call", "func": "f", "line": 3, "frame": 2, "depth": 1, "args": {"a": "1", "b": "'x, y=2'"}},
        {"kind": "line", "func": "f", "line": 4, "frame": 2, "depth": 1, "vars": {"a": "1", "b": "'x, y=2'"}},
        {"kind": "output", "stream": "stdout", "text": "hel"},
        {"kind": "output", "stream": "stdout", "text": "lo\n"},
        {"kind": "output", "stream": "stderr", "text": "warn\n"},
        {"kind": "exception", "func": "f", "line": 5, "frame": 2, "depth": 1, "type": "KeyError",
         "message": "'k'"},
        {"kind": "return", "func": "f", "line": 5, "frame": 2, "depth": 1, "value": None},
        {"kind": "line", "func": "<module>", "line": 8, "frame": 1, "depth": 0, "vars": {"r": "[1, 2]"}},
        {"kind": "return", "func": "g", "line": 9, "frame": 3, "depth": 1, "value": "'multi\nline'"},
    ]
    return [head, *ev, records.footer(status=status, exit_code=0 if status == "ok" else 1, events=len(ev), **foot)]


def test_each_event_kind_has_its_documented_line():
    assert render(_trace()).split("\n") == [
        "L1",
        "L3 call f(a=1, b='x, y=2')",
        "L4 a=1, b='x, y=2'",
        'out "hello\\n"',
        'err "warn\\n"',
        "L5 exception KeyError: 'k'",
        "L5 return",
        "L8 r=[1, 2]",
        "L9 return 'multi\\nline'",
    ]


def test_rendering_is_deterministic_and_survives_the_msgpack_round_trip():
    trace = trace_python(PYTHON["gcd.py"])
    buf = io.BytesIO()
    records.write(trace, buf)
    buf.seek(0)
    assert render(trace) == render(trace) == render(list(records.read(buf)))


def test_the_form_is_the_same_for_every_language():
    texts = {render(_trace(lang)) for lang in ("python", "javascript", "c", "rust")}
    assert len(texts) == 1


def test_top_level_call_and_return_are_not_steps():
    # some tracers report entering and leaving top-level code; the text is the same either way
    base = _trace()
    wrapped = [base[0], {"kind": "call", "func": "<module>", "line": 1, "frame": 1, "depth": 0, "args": {}},
               *base[1:-1], {"kind": "return", "func": "<module>", "line": 9, "frame": 1, "depth": 0,
                             "value": "undefined"}, base[-1]]
    assert render(wrapped) == render(base)


def test_every_step_is_one_line_whatever_the_values_hold():
    trace = _trace()
    trace[3]["vars"] = {"s": "'a\nb\r\nc'"}
    assert len(render(trace).split("\n")) == len(steps(trace))


def test_max_steps_cuts_and_says_how_many_steps_are_left_out():
    trace = trace_python(PYTHON["long_loop.py"])
    full = steps(trace)
    cut = render(trace, TextOptions(max_steps=10)).split("\n")
    assert cut[:10] == full[:10]
    assert cut[10] == f"{records.TRUNCATION_MARKER} {len(full) - 10} more steps"
    assert len(cut) == 11
    assert render(trace, TextOptions(max_steps=len(full))) == render(trace)


def test_long_values_are_cut_with_the_marker():
    trace = _trace()
    trace[3]["vars"] = {"big": "x" * 500}
    value = dict(split_assignments(render(trace, TextOptions(max_value=20)).split("\n")[2][3:]))["big"]
    assert len(value) == 20 and value.endswith(records.TRUNCATION_MARKER)


def test_a_trace_cut_by_the_tracer_or_a_failing_program_says_so():
    cut = render(_trace(truncated=True, truncation="max_events")).split("\n")
    assert cut[-1] == f"{records.TRUNCATION_MARKER} trace cut by the tracer (max_events)"
    failed = render(_trace(status="runtime_error")).split("\n")
    assert failed[-1] == "end runtime_error exit 1"
    assert parse_steps(render(_trace(status="runtime_error"))) == parse_steps(render(_trace()))


def test_parse_steps_reads_back_every_step_with_its_values():
    for name, code in PYTHON.items():
        trace = trace_python(code, source=name)
        parsed = parse_steps(render(trace))
        assert len(parsed) == len(steps(trace)), name
        line_events = [r for r in trace if r["kind"] == "line"]
        line_steps = [s for s in parsed if s[0] == "line"]
        assert [s[1] for s in line_steps] == [r["line"] for r in line_events]
        assert [dict(s[2]) for s in line_steps] == [r["vars"] for r in line_events], name


def _random_value(rng: random.Random, depth: int = 0):
    choice = rng.randrange(6 if depth < 3 else 3)
    if choice == 0:
        return rng.randint(-1000, 1000)
    if choice == 1:
        return "".join(rng.choice("ab ,=[](){}'\"\\x") for _ in range(rng.randint(0, 8)))
    if choice == 2:
        return rng.random()
    if choice == 3:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if choice == 4:
        return {str(rng.randint(0, 9)): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return tuple(_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3)))


def test_split_assignments_inverts_the_rendering_of_any_repr_values():
    rng = random.Random(7)
    for _ in range(300):
        values = {f"v{i}": repr(_random_value(rng)) for i in range(rng.randint(1, 5))}
        text = ", ".join(f"{k}={v}" for k, v in values.items())
        assert dict(split_assignments(text)) == values, text
    java = {"p": "Point{x=1, y=2}", "q": "[a=1, b=2]"}
    assert dict(split_assignments("p=Point{x=1, y=2}, q=[a=1, b=2]")) == java


def test_program_text_comes_from_the_header_or_a_matching_file(tmp_path):
    code = PYTHON["fib.py"]
    sha = hashlib.sha256(code.encode()).hexdigest()
    assert program_text({"sha256": sha, "code": code}) == code
    with pytest.raises(SourceUnavailable, match="does not match"):
        program_text({"sha256": sha, "code": code + "# edited\n"})
    (tmp_path / "fib.py").write_text(code, encoding="utf-8")
    assert program_text({"sha256": sha, "source": "fib.py"}, base=tmp_path) == code
    (tmp_path / "fib.py").write_text(code + "# edited\n", encoding="utf-8")
    with pytest.raises(SourceUnavailable, match="changed since it was traced"):
        program_text({"sha256": sha, "source": "fib.py"}, base=tmp_path)
    with pytest.raises(SourceUnavailable, match="cannot be read"):
        program_text({"sha256": sha, "source": str(tmp_path / "gone.py")})
    with pytest.raises(SourceUnavailable, match="no sha256"):
        program_text({"code": code})


def test_numbered_lines_match_the_trace_line_numbers():
    lines = numbered("a = 1\n\nb = 2\n" * 4).split("\n")
    assert lines[0] == " 1 | a = 1" and lines[1] == " 2 |" and lines[10] == "11 |"
