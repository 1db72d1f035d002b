"""The repair loop on a toy compiled language: the compiler rejects probes that read `secret`.

The toy's "compiler" is a real program run in the sandbox; its diagnostics name a line and a
variable, as gcc, javac or rustc do. The loop must drop exactly those reads and keep the rest.
"""

import textwrap

from codealchemy.tracer import records
from codealchemy.tracer.backends.local import LocalBackend
from codealchemy.tracer.languages import Language
from codealchemy.tracer.limits import Limits
from codealchemy.tracer.tracing import trace_source

COMPILER = r"""
import re, sys
src = open("main.py").read()
bad = [(n, m.group(1)) for n, line in enumerate(src.splitlines(), 1)
       for m in re.finditer(r"show\('(secret\w*)'", line)]
for n, name in bad:
    print(f"main.py:{n}:1: error: cannot read '{name}' here", file=sys.stderr)
broken = "syntax error" in src
if broken:
    print("main.py:1:1: error: the program itself is broken", file=sys.stderr)
sys.exit(1 if bad or broken else 0)
"""

REWRITE = """
def rewrite(rw):
    for _, node in rw.captures("stmt"):
        line = node.start_point[0] + 1
        names = [n for n in ("x", "secret", "secret2") if n in rw.text(node)]
        if not rw.keep(line):
            continue
        reads = "".join(f"show('{n}', {n}); " for n in names if rw.keep(line, n))
        rw.insert(node.end_byte, "; " + reads)
"""


def toy(tmp_path):
    instr, rt = tmp_path / "instr", tmp_path / "rt"
    instr.mkdir()
    rt.mkdir()
    (instr / "language.toml").write_text('id = "toy"\nextensions = [".toy"]\ngrammar = "tree_sitter_python"\n')
    (instr / "stmt.scm").write_text("(expression_statement) @stmt\n")
    (instr / "rewrite.py").write_text(textwrap.dedent(REWRITE))
    (instr / "prelude").mkdir()
    (instr / "prelude" / "compiler.py").write_text(COMPILER)
    (rt / "runtime.toml").write_text(textwrap.dedent("""
        source = "main.py"
        compile = ["python3", "compiler.py"]
        run = ["python3", "-c", "print('ran')"]
        diagnostic = '^{source}:(?P<line>\\d+):\\d+: error: (?P<message>.*)$'
    """))
    return Language.from_folders(instr, rt)


def trace(lang, code):
    return list(trace_source(code.encode(), lang, source="p.toy", backend=LocalBackend(), limits=Limits(timeout=10)))


def test_drops_only_the_reads_the_compiler_named(tmp_path):
    lang = toy(tmp_path)
    trace_ = trace(lang, "x = 1\nsecret = x\nsecret2 = secret + x\n")
    head, foot = trace_[0], trace_[-1]
    assert foot["status"] == "ok", foot
    assert sorted((r["line"], r["variable"]) for r in head["repairs"]) == [(2, "secret"), (3, "secret"), (3, "secret2")]
    assert all("cannot read" in r["reason"] for r in head["repairs"])
    records.validate(head)


def test_a_program_that_does_not_compile_is_a_compile_error_not_repaired(tmp_path):
    lang = toy(tmp_path)
    trace_ = trace(lang, "x = 1\ny = 'syntax error'\n")
    assert trace_[-1]["status"] == "compile_error"
    assert "repairs" not in trace_[0]
    assert "the program itself is broken" in trace_[-1]["stderr"]
