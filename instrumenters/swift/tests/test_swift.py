"""Swift: instrumented-output goldens (no Swift toolchain on Debian 12), and runs where swiftc exists.

Every fixture (tests/fixtures/*.swift) and conformance program (tests/conformance_programs)
is instrumented; the result must parse with tree-sitter-swift (the engine re-parses it) and
equal its golden `instrumented/NAME.instrumented.swift` (rewritten with CODEALCHEMY_UPDATE_GOLDENS=1 and
read by hand). Where `swiftc` is on PATH, the fixtures also run traced and untraced.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.instrument import Instrumented, Skip, instrument
from codealchemy.tracer.testing import Tracer

HERE = Path(__file__).parent
FIXTURES = sorted((HERE / "fixtures").glob("*.swift"))
CONFORMANCE = sorted((HERE / "conformance_programs").glob("*.swift"))
PROGRAMS = FIXTURES + CONFORMANCE
NO_SWIFTC = shutil.which("swiftc") is None


def lang():
    return plugins.languages().get("swift")


def instrumented(path: Path) -> Instrumented:
    inst = instrument(path.read_text(encoding="utf-8"), lang())
    assert isinstance(inst, Instrumented), (path.name, inst)
    return inst


def test_enough_fixtures():
    assert len(FIXTURES) >= 10
    assert len(CONFORMANCE) == 10


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_instrumented_golden(path):
    code = instrumented(path).code
    golden = path.parent / "instrumented" / f"{path.stem}.instrumented.swift"   # not a program of the folder
    if os.environ.get("CODEALCHEMY_UPDATE_GOLDENS") == "1":
        golden.write_text(code, encoding="utf-8")
        return
    assert golden.exists(), f"golden {golden.name} is missing (write it with CODEALCHEMY_UPDATE_GOLDENS=1)"
    assert code == golden.read_text(encoding="utf-8"), f"instrumented code differs from {golden.name}"


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_original_lines_keep_their_numbers(path):
    """Probes go on the lines of their statements: every original line is still on its line
    (its tokens in order, with text inserted around them), so swiftc's diagnostics map back."""
    original = path.read_text(encoding="utf-8").splitlines()
    code = instrumented(path).code.splitlines()
    assert len(code) == len(original) + 1          # + the module's end, after the last line
    for before, after in zip(original, code, strict=False):
        rest = iter(re.findall(r"\w+|[^\s\w]", after))
        assert all(tok in rest for tok in re.findall(r"\w+|[^\s\w]", before)), (path.name, before, after)


def test_probe_map_lines_are_original_lines():
    for path in PROGRAMS:
        n = len(path.read_text(encoding="utf-8").splitlines())
        for p in instrumented(path).probes:
            assert 1 <= p.line <= n + 1, (path.name, p)


def test_definite_initialisation():
    """`let value: Int` is read only after both branches assigned it; `var note: String?` is
    nil from its declaration; `let text: String` assigned in a switch is never read."""
    code = instrumented(HERE / "fixtures" / "definite_init.swift").code.splitlines()
    def reads(line):   # the names a probe on this (1-based) line reads
        return re.findall(r'\("(\w+)", __CA\.s', code[line - 1])
    assert reads(4) == ["flag", "note"]                  # the if: value not yet assigned
    assert "value" in reads(6)                           # after value = 1, in the branch
    assert reads(10) == ["flag", "value", "note"]        # after the if/else
    switch = instrumented(HERE / "fixtures" / "switch_cases.swift").code
    assert '("text"' not in switch


def test_frames_returns_and_errors_are_rewritten():
    code = instrumented(HERE / "fixtures" / "errors.swift").code
    assert "throw __CA.thrown(__ca_f, " in code
    assert "return __CA.ret(__ca_f, " in code
    assert "__CA.caught(__ca_m, " in code and ", error);" in code
    single = instrumented(HERE / "fixtures" / "functions.swift").code
    assert "return __CA.ret(__ca_f, 10, x * x) }" in single     # an implicit return made explicit


def test_closures_are_left_alone():
    code = instrumented(HERE / "fixtures" / "closures.swift").code
    assert "{ x in x + offset }" in code and "{ a, b in a > b }" in code


def test_no_top_level_code_is_skipped():
    assert isinstance(instrument("func f() -> Int { 1 }\n", lang()), Skip)
    assert isinstance(instrument("   \n", lang()), Skip)
    assert isinstance(instrument("@main\nstruct App {\n    static func main() {\n        print(1)\n    }\n}\n",
                                 lang()), Instrumented)


def test_runtime_and_prelude_agree():
    rt = lang().runtime
    assert rt.source == "main.swift"
    assert "_codealchemy.swift" in " ".join(rt.compile)
    assert set(lang().prelude_files) == {"_codealchemy.swift"}
    assert rt.env.get("SWIFT_DETERMINISTIC_HASHING") == "1"


# --- runs: only where a Swift toolchain is installed -------------------------------------------

@pytest.mark.skipif(NO_SWIFTC, reason="no swiftc on this machine")
@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_runs_traced_as_untraced(path):
    tracer = Tracer()
    traced = tracer.trace(path)
    untraced = tracer.untraced(path)
    assert traced.footer["status"] == untraced.final.status
    if path.stem != "errors":
        assert traced.stdout == untraced.run.stdout.decode()
    first = next(e for e in traced.events if e["kind"] != "output")
    assert (first["kind"], first["func"], first["frame"], first["depth"]) == ("call", "<module>", 1, 0)


@pytest.mark.skipif(NO_SWIFTC, reason="no swiftc on this machine")
def test_conformance_programs_run():
    tracer = Tracer()
    for path in CONFORMANCE:
        traced = tracer.trace(path)
        assert traced.footer["status"] == "ok", (path.name, traced.footer)


def test_prelude_parses():
    """No swiftc here: at least tree-sitter-swift reads the prelude without an error."""
    from codealchemy.tracer import treesitter
    tree = treesitter.parse(lang().grammar, lang().prelude_files["_codealchemy.swift"])
    assert treesitter.first_error(tree.root_node) is None


def test_labels_closure_parameters_and_destructuring():
    code = instrumented(HERE / "fixtures" / "labels_params.swift").code
    assert "}; outer: for v in values {" in code                  # the probe goes before the label
    assert '("transform"' not in code and '("done", __CA.s(done))' in code   # non-escaping: not read
    assert '("a", __CA.s(a)), ("b", __CA.s(b))' in code           # let (a, b) = ...
    assert "while __CA.t(" in code and '("next", __CA.s(next))' in code
