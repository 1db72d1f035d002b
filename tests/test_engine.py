"""The engine on a throwaway language whose rewriter the test writes: the mechanism, not a language."""

import shutil
import textwrap

import pytest

from codealchemy.tracer import plugins
from codealchemy.tracer.instrument import Failure, Instrumented, Skip, instrument
from codealchemy.tracer.languages import Language


def make_language(tmp_path, rewrite_body, syntax="strict"):
    instr, rt = tmp_path / "instr", tmp_path / "rt"
    instr.mkdir(parents=True)
    rt.mkdir(parents=True)
    (instr / "language.toml").write_text(
        f'id = "toy"\nextensions = [".toy"]\ngrammar = "tree_sitter_python"\nsyntax = "{syntax}"\n')
    (instr / "stmt.scm").write_text("(expression_statement) @stmt\n")
    (instr / "rewrite.py").write_text(textwrap.dedent(rewrite_body))
    (instr / "prelude").mkdir()
    (instr / "prelude" / "helper.txt").write_text("support")
    (rt / "runtime.toml").write_text('source = "main.py"\nrun = ["python3", "{source}"]\n')
    return Language.from_folders(instr, rt)


def test_edits_probes_and_prelude_files(tmp_path):
    lang = make_language(tmp_path, """
        def rewrite(rw):
            for _, node in rw.captures("stmt"):
                pid = rw.probe("line", node.start_point[0] + 1, "<module>")
                rw.insert(node.start_byte, f"p({pid}); ", priority=1)
                rw.insert(node.start_byte, "q(); ")
            rw.replace(0, 1, "y")
    """)
    result = instrument("x = 1\nif x:\n    z = 2\n", lang)
    assert isinstance(result, Instrumented)
    assert result.code == "q(); p(0); y = 1\nif x:\n    q(); p(1); z = 2\n"
    assert [(p.id, p.line) for p in result.probes] == [(0, 1), (1, 3)]
    assert result.files == {"helper.txt": b"support"}


@pytest.mark.parametrize("source, reason", [
    (b"\xff\xfe garbage", "not UTF-8"),
    (b"x = 1\0\0", "binary file"),
    (b"  \n\n", "empty file"),
    (b"def f(:\n  pass\n", "syntax error at line 1"),
])
def test_bad_input_is_a_skip_with_a_reason(tmp_path, source, reason):
    lang = make_language(tmp_path, "def rewrite(rw):\n    pass\n")
    result = instrument(source, lang)
    assert isinstance(result, Skip) and reason in result.reason


def test_overlapping_edits_rewriter_bugs_and_broken_output_are_failures(tmp_path):
    overlap = make_language(tmp_path / "a", "def rewrite(rw):\n    rw.replace(0, 3, 'a')\n    rw.replace(2, 4, 'b')\n")
    assert "overlapping" in instrument("x = 1\n", overlap).error
    crash = make_language(tmp_path / "b", "def rewrite(rw):\n    raise KeyError('boom')\n")
    assert isinstance(instrument("x = 1\n", crash), Failure)
    broken = make_language(tmp_path / "c", "def rewrite(rw):\n    rw.insert(0, 'def (')\n")
    result = instrument("x = 1\n", broken)
    assert isinstance(result, Failure) and "does not parse" in result.error


def test_builtin_languages_come_from_the_folders_only(tmp_path):
    reg = plugins.languages()
    assert {lang.id for lang in reg} >= {"python", "javascript", "c"}
    assert all(lang.instrumenter_dir.name == lang.id for lang in reg)
    assert shutil.which("bwrap"), "the set-up installs bubblewrap"


def test_a_tolerant_language_lets_the_program_s_own_parser_decide(tmp_path):
    body = "def rewrite(rw):\n    rw.insert(0, '# probe\\n')\n"
    broken = b"def f(:\n  pass\n"
    assert isinstance(instrument(broken, make_language(tmp_path / "s", body)), Skip)
    result = instrument(broken, make_language(tmp_path / "t", body, syntax="tolerant"))
    assert isinstance(result, Instrumented) and result.code.startswith("# probe\n")
