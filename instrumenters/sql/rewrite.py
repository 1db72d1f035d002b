"""SQL (SQLite) rewriter: a marker comment `/*@ca ID*/` before every statement.

The statements are the ones the sqlite3 CLI would run, found with the same rules the runner
uses (prelude/codealchemy_sql.py: lines buffered until `sqlite3_complete`, then split at each
complete statement), so the rewriter and the runner can never disagree. The grammar is
weaker than SQLite, so the language is syntax-tolerant (language.toml): SQLite
decides. The markers are comments: the instrumented script still runs unchanged in the
sqlite3 CLI, and every line keeps its number.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from codealchemy.tracer.instrument import Rewrite, SkipProgram

RUNNER = Path(__file__).resolve().parent / "prelude" / "codealchemy_sql.py"


@cache
def _runner():
    spec = importlib.util.spec_from_file_location("codealchemy.instrumenters._sql_runner", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rewrite(rw: Rewrite) -> None:
    text = rw.source.decode("utf-8")
    spans = _runner().split_script(text)
    if not spans:
        raise SkipProgram("no SQL statements")
    line, byte, pos = 1, 0, 0
    for start, _end in spans:
        chunk = text[pos:start]
        line += chunk.count("\n")
        byte += len(chunk.encode("utf-8"))
        pos = start
        pid = rw.probe("line", line, "<module>")
        rw.insert(byte, f"/*@ca {pid}*/")
