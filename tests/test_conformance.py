"""Cross-language conformance: the programs of tests/conformance/SPEC.md give, in every
language, the same calls and returns of the named functions and the same output."""

import re
from functools import cache

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.testing import Tracer

#: program -> (functions compared, expected stdout); the table of SPEC.md.
PROGRAMS = {
    "recursion": (("fact",), "120\n"),
    "gcd_loop": (("gcd",), "6\n1\n"),
    "sort": (("bubble",), "1 2 5 7 9\n5\n"),
    "reverse": (("reverse",), "olleh\n"),
    "counter": (("increment",), "3\n"),
    "exception": (("divide",), "5\nerror\n"),
    "closure": (("makecounter",), "1\n2\n3\n"),
    "nested_loops": (("table",), "36\n"),
    "early_return": (("find",), "2\n-1\n"),
    "collections": (("countwords",), "4\n"),
}


def norm_func(name: str) -> str:
    return re.split(r"\.|::|#|->|\\", name)[-1].lower().replace("_", "")


def norm_value(value: str | None) -> str | None:
    """Integers and plain words compare; functions, objects and the like are opaque."""
    if value is None or value in ("None", "nil", "null", "undefined", "NULL"):
        return None
    text = value.strip().strip("'\"")
    return text if re.fullmatch(r"-?\d+|[\w ]*", text) else "<opaque>"


@cache
def tracer() -> Tracer:
    return Tracer()


def programs(name: str) -> dict[str, object]:
    found = {}
    for lang in plugins.languages():
        folder = lang.instrumenter_dir / "tests" / "conformance"
        for path in folder.glob(f"{name}.*") if folder.is_dir() else ():
            if path.suffix in lang.extensions:
                found[lang.id] = path
    return found


def skipped() -> dict[tuple[str, str], str]:
    out = {}
    for lang in plugins.languages():
        path = lang.instrumenter_dir / "tests" / "conformance" / "SKIPPED"
        if path.exists():
            for line in path.read_text().splitlines():
                if ":" in line:
                    name, reason = line.split(":", 1)
                    out[(lang.id, name.strip())] = reason.strip()
    return out


def structure(events: list[dict], functions: tuple[str, ...]) -> list[tuple]:
    named = [e for e in events if e["kind"] in ("call", "return") and norm_func(e["func"]) in functions]
    if not named:
        return []
    base = min(e["depth"] for e in named)
    return [(e["kind"], norm_func(e["func"]), e["depth"] - base,
             norm_value(e["value"]) if e["kind"] == "return" else None) for e in named]


def test_every_language_writes_every_program_or_says_why():
    skips = skipped()
    for lang in plugins.languages():
        folder = lang.instrumenter_dir / "tests" / "conformance"
        if not folder.is_dir():
            continue
        for name in PROGRAMS:
            assert lang.id in programs(name) or (lang.id, name) in skips, f"{lang.id} lacks {name} and gives no reason"


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_same_structure_and_values_across_languages(name):
    functions, stdout = PROGRAMS[name]
    found = programs(name)
    assert len(found) >= 2, f"{name}: fewer than two languages to compare"
    shapes = {}
    for lang_id, path in sorted(found.items()):
        traced = tracer().trace(path)
        assert traced.footer["status"] == "ok", (lang_id, traced.footer)
        assert traced.stdout == stdout, lang_id
        shapes[lang_id] = structure(traced.events, functions)
        assert shapes[lang_id], f"{lang_id}: no call of {functions} in the trace"
    reference = shapes.get("python") or next(iter(shapes.values()))
    differing = {lang_id: shape for lang_id, shape in shapes.items() if shape != reference}
    assert not differing, f"{name}: differs from the reference {reference}: {differing}"
